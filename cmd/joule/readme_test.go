package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/joule-ev/joule/internal/store/storetest"
)

// TestReadmeQuickstart runs the README's quickstart shell blocks as written,
// with the freshly built binary in place of `go run ./cmd/joule`, in an empty
// directory, on SQLite and on PostgreSQL.
func TestReadmeQuickstart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(readme)
	start := strings.Index(section, "## Quickstart")
	end := strings.Index(section[start+1:], "\n## ")
	section = section[start : start+1+end]
	var script strings.Builder
	for _, m := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(section, -1) {
		script.WriteString(m[1])
	}
	if !strings.Contains(script.String(), "/wallet") {
		t.Fatalf("quickstart blocks not found in README:\n%s", section)
	}
	bin := filepath.Join(t.TempDir(), "joule")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	body := strings.ReplaceAll(script.String(), "go run ./cmd/joule", bin)
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			if l, err := net.Listen("tcp", "127.0.0.1:8080"); err != nil {
				t.Skip("127.0.0.1:8080 is in use; the quickstart needs it")
			} else {
				l.Close()
			}
			env := os.Environ()
			if db == "postgres" {
				env = append(env, "JOULE_DATABASE_URL="+storetest.PostgresDSN(t))
			}
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", body+"\nkill %1; wait\n")
			cmd.Dir = t.TempDir()
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("quickstart failed: %v\n%s", err, out)
			}
			s := string(out)
			for _, want := range []string{`"wallet":{`, `"balance":0`, `"available_balance":0`, `"currency":"USD"`, `"firstname":"Ada"`} {
				if !strings.Contains(s, want) {
					t.Errorf("output lacks %s:\n%s", want, s)
				}
			}
		})
	}
}
