package sandbox_test

import (
	"testing"
	"time"

	"github.com/joule-ev/joule/internal/apitest"
)

// Right after start on a fresh database, the sandbox chargers are online
// with their connectors Available (issue: sandbox chargers).
func TestSandboxChargersComeOnline(t *testing.T) {
	apitest.Each(t, func(t *testing.T, j *apitest.Joule) {
		deadline := time.Now().Add(10 * time.Second)
		for {
			stations := j.Must(t, 200, j.Key, "GET", "/v1/chargestations?limit=100", nil)["data"].([]any)
			ready := 0
			evses := map[string]bool{}
			for _, s := range stations {
				st := s.(map[string]any)
				all := st["online"] == true
				for _, c := range st["connectors"].([]any) {
					conn := c.(map[string]any)
					evses[conn["evse_id"].(string)] = true
					all = all && conn["status"] == "Available"
				}
				if all {
					ready++
				}
			}
			if len(stations) == 6 && ready == 6 {
				for _, e := range []string{"DE*DRV*E6mayTt", "DE*DRV*E4JanRe", "DE*DRV*E9svnVs", "DE*DRV*E8vsnVn"} {
					if !evses[e] {
						t.Errorf("error charger %s missing", e)
					}
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d sandbox chargers online with connectors Available", ready, len(stations))
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}
