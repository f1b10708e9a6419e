package driveapi
import ("context";"testing";"time";"github.com/joule-ev/joule/internal/store/storetest")
func TestTimingTmp(t *testing.T){
 db:=storetest.SQLite(t)
 p:=newOrg(t,db)
 ctx:=context.Background()
 rows,_:=db.Q().QueryContext(ctx, `SELECT name, sql FROM sqlite_master WHERE type='index' AND tbl_name='locations' AND sql IS NOT NULL`)
 var ddl []string; var names []string
 for rows.Next(){ var n,s string; rows.Scan(&n,&s); ddl=append(ddl,s); names=append(names,n)}
 rows.Close()
 t.Log(names)
 b:=time.Now()
 for _,n:=range names { if _,err:=db.Q().ExecContext(ctx,"DROP INDEX "+n); err!=nil {t.Fatal(err)} }
 manyLocations(t, db, p, 100_000)
 t.Log("insert w/o idx", time.Since(b))
 b=time.Now()
 for _,s:=range ddl { if _,err:=db.Q().ExecContext(ctx,s); err!=nil {t.Fatal(err)} }
 t.Log("create idx", time.Since(b))
}
