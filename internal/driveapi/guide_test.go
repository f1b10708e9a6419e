package driveapi_test

import (
	"bytes"
	"io"
	"net/http"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/joule-ev/joule/internal/apitest"
)

var isoDurationRE = regexp.MustCompile(`^PT(\d+H)?(\d+M)?(\d+(\.\d{1,3})?S)?$`)

// TestRemoteChargingGuide replays spec 003's "Testing remote charging"
// against the real server and its sandbox virtual chargers: the successful
// session at the test site, then the four error chargers at the error site.
func TestRemoteChargingGuide(t *testing.T) {
	apitest.Each(t, func(t *testing.T, j *apitest.Joule) {
		// The stop-fails charger is given up on after stop_timeout; 5 s keeps the test quick.
		setConfig(t, j, j.Key, map[string]any{"stop_timeout": 5})
		d := newDrive(j, j.Key)
		user := d.user(t, "guide-user")
		waitSandbox(t, d)

		t.Run("successful session", func(t *testing.T) {
			// 1. Find a charger via geosearch: the guide's request, as it is.
			res := d.geosearch(t, testSiteLat, testSiteLng, 500, "limit=300&aggregate=false", map[string]any{"locationStatuses": []string{"AVAILABLE"}})
			locs := res["locations"].([]any)
			if len(locs) != 1 {
				t.Fatalf("geosearch found %d locations, want the test site: %s", len(locs), jsonString(t, res))
			}
			loc := locs[0].(map[string]any)
			if loc["status"] != "AVAILABLE" || loc["distance"].(float64) > 1 {
				t.Fatalf("test site: %s", jsonString(t, loc))
			}
			// 2. Select an available charger and get its connector id.
			var conn map[string]any
			for _, c := range connectors(res) {
				if c["status"] == "AVAILABLE" && c["evseId"] == "DE*DRV*E1okSb1" {
					conn = c
				}
			}
			if conn == nil {
				t.Fatalf("no AVAILABLE connector DE*DRV*E1okSb1: %s", jsonString(t, res))
			}
			// 3. Start the session.
			sid := d.start(t, user, conn["connectorId"].(string))
			// The session is STARTED once the charger confirms.
			s := d.waitStatus(t, user, sid, "STARTED", 10*time.Second)
			ch := s["charger"].(map[string]any)
			if ch["evseId"] != "DE*DRV*E1okSb1" || ch["chargingStationName"] != "Sandbox charger 1" || ch["connectorLabel"] != "1" ||
				ch["city"] != "Warsaw" || ch["streetName"] != "Kasprowicza 1" {
				t.Errorf("charger %v", ch)
			}
			if s["sessionId"] != sid || s["connectorId"] != conn["connectorId"] || s["site"] != "Joule Sandbox — Test site" ||
				s["chargingKeyType"] != "virtual" || s["receiptAvailable"] != false || s["userId"] != user {
				t.Errorf("STARTED session %s", jsonString(t, s))
			}
			if _, err := time.Parse(time.RFC3339Nano, s["startTime"].(string)); err != nil {
				t.Errorf("startTime %v", s["startTime"])
			}
			if !isoDurationRE.MatchString(s["duration"].(string)) {
				t.Errorf("duration %q is not an ISO 8601 duration", s["duration"])
			}
			if _, ok := s["balanceStatus"]; ok {
				t.Errorf("balanceStatus before COMPLETE: %v", s["balanceStatus"])
			}
			// 4. Wait a desired amount of time, 5. stop the session.
			time.Sleep(1500 * time.Millisecond)
			d.stop(t, user, sid)
			s = d.waitStatus(t, user, sid, "COMPLETE", 15*time.Second)
			if s["balanceStatus"] != "PAID" || s["receiptAvailable"] != true || s["endTime"] == nil {
				t.Fatalf("COMPLETE session %s", jsonString(t, s))
			}
			energy := s["energy"].(map[string]any)
			price := s["price"].(map[string]any)
			if energy["unit"] != "WH" || energy["value"].(float64) <= 0 {
				t.Errorf("energy %v", energy)
			}
			if price["currencyCode"] != "USD" || price["vat"] != "10" || price["minorInclVat"].(float64) <= 0 ||
				price["minorExclVat"].(float64) > price["minorInclVat"].(float64) || s["balanceAmountMinor"] != price["minorInclVat"] {
				t.Errorf("price %v, balanceAmountMinor %v", price, s["balanceAmountMinor"])
			}
			if !isoDurationRE.MatchString(s["duration"].(string)) || s["duration"] == "PT0S" {
				t.Errorf("duration %v", s["duration"])
			}
			// The receipt: a signed URL that returns a PDF, without an API key.
			rc := d.must(t, 200, "GET", "/drive/v1/users/"+user+"/sessions/"+sid+"/receipt", nil)
			resp, err := http.Get(rc["url"].(string))
			if err != nil {
				t.Fatal(err)
			}
			pdf, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/pdf" || !bytes.HasPrefix(pdf, []byte("%PDF-")) {
				t.Fatalf("receipt: %d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), pdf[:min(len(pdf), 20)])
			}
		})

		t.Run("error cases", func(t *testing.T) {
			res := d.geosearch(t, errorSiteLat, errorSiteLng, 500, "limit=300", nil)
			all := connectors(res)
			for _, evse := range []string{"DE*DRV*E6mayTt", "DE*DRV*E4JanRe", "DE*DRV*E9svnVs", "DE*DRV*E8vsnVn"} {
				c := all[evse]
				if c == nil || c["status"] != "AVAILABLE" {
					t.Fatalf("geosearch at the error site: %s is %v", evse, c)
				}
			}
			if len(all) != 4 {
				t.Errorf("error site has %d connectors, want 4", len(all))
			}
			// The four scenarios run side by side (each on its own charger).
			var wg sync.WaitGroup
			run := func(name string, f func(t *testing.T)) {
				wg.Add(1)
				go func() {
					defer wg.Done()
					t.Run(name, f)
				}()
			}
			run("waiting to start hanging", func(t *testing.T) {
				sid := d.start(t, user, all["DE*DRV*E6mayTt"]["connectorId"].(string))
				d.waitStatus(t, user, sid, "WAITING_TO_START", 5*time.Second)
				// It hangs: the charger accepted the start and never began.
				time.Sleep(2 * time.Second)
				if s := d.session(t, user, sid); s["sessionStatus"] != "WAITING_TO_START" {
					t.Fatalf("after 2 s: %s", jsonString(t, s))
				}
			})
			run("stop ignored", func(t *testing.T) {
				sid := d.start(t, user, all["DE*DRV*E4JanRe"]["connectorId"].(string))
				d.waitStatus(t, user, sid, "STARTED", 10*time.Second)
				d.stop(t, user, sid)
				// The charger rejects the stop: the session is still STARTED.
				s := d.waitWhile(t, user, sid, 10*time.Second, "WAITING_TO_STOP")
				if s["sessionStatus"] != "STARTED" || s["failureReason"] == nil {
					t.Fatalf("after an ignored stop: %s", jsonString(t, s))
				}
				time.Sleep(time.Second)
				if s := d.session(t, user, sid); s["sessionStatus"] != "STARTED" {
					t.Fatalf("a second later: %s", jsonString(t, s))
				}
			})
			run("start fails", func(t *testing.T) {
				sid := d.start(t, user, all["DE*DRV*E9svnVs"]["connectorId"].(string))
				s := d.waitStatus(t, user, sid, "FAILED", 10*time.Second)
				if s["failureReason"] == nil || s["duration"] != nil || s["price"] != nil {
					t.Errorf("FAILED session %s", jsonString(t, s))
				}
			})
			run("stop fails", func(t *testing.T) {
				sid := d.start(t, user, all["DE*DRV*E8vsnVn"]["connectorId"].(string))
				d.waitStatus(t, user, sid, "STARTED", 10*time.Second)
				if s := d.stop(t, user, sid); s["sessionStatus"] != "WAITING_TO_STOP" {
					t.Errorf("stop answered %v", s["sessionStatus"])
				}
				// The charger accepts and never stops: STOP_FAILED after stop_timeout (5 s).
				d.waitStatus(t, user, sid, "STOP_FAILED", 15*time.Second)
			})
			wg.Wait()
		})
	})
}
