package driveapi_test

import (
	"testing"

	"github.com/joule-ev/joule/internal/apitest"
)

func TestGeosearchEndpoint(t *testing.T) {
	j := apitest.Start(t, t.TempDir()+"/joule.db")
	d := newDrive(j, j.Key)
	waitSandbox(t, d)
	for _, q := range []string{
		"longitude=20.9&distance=500",               // latitude missing
		"latitude=52.29&longitude=20.9",             // distance missing
		"latitude=91&longitude=20.9&distance=500",   // out of range
		"latitude=52.29&longitude=181&distance=500", // out of range
		"latitude=52.29&longitude=20.9&distance=-1", // negative radius
		"latitude=52.29&longitude=20.9&distance=500&limit=0",
		"latitude=52.29&longitude=20.9&distance=500&aggregationPrecision=13",
		"latitude=52.29&longitude=20.9&distance=500&radius=3", // unknown parameter
	} {
		if r := d.do(t, "POST", "/drive/v1/geosearch/radius?"+q, map[string]any{}); r.Status != 422 {
			t.Errorf("%s: %d %s", q, r.Status, r.Body)
		}
	}
	if r := d.do(t, "POST", "/drive/v1/geosearch/radius?latitude=52.29&longitude=20.9&distance=500", map[string]any{"filters": map[string]any{"locationStatuses": []string{"FREE"}}}); r.Status != 422 {
		t.Errorf("unknown status filter: %d %s", r.Status, r.Body)
	}
	// Both sandbox sites, about 4.9 km apart, in two grid cells of precision 5.
	res := d.geosearch(t, testSiteLat, testSiteLng, 6000, "aggregate=true&aggregationPrecision=5", map[string]any{"capabilities": []string{"REMOTE_START_STOP_CAPABLE"}})
	locs, aggs := res["locations"].([]any), res["aggregates"].([]any)
	if len(locs) != 2 || locs[0].(map[string]any)["name"] != "Joule Sandbox — Test site" || len(aggs) != 2 {
		t.Fatalf("geosearch %s", jsonString(t, res))
	}
	site := locs[1].(map[string]any)
	if d := site["distance"].(float64); d < 4900 || d > 5000 || site["open247"] != true || site["address"].(map[string]any)["city"] != "Warsaw" {
		t.Errorf("error site %s", jsonString(t, site))
	}
	evse := site["evses"].([]any)[0].(map[string]any)
	conn := evse["connectors"].([]any)[0].(map[string]any)
	if evse["status"] != "AVAILABLE" || conn["ocppStatus"] != "Available" || conn["maxPower"] != float64(22000) || conn["powerType"] != "AC_3_PHASE" {
		t.Errorf("evse %s", jsonString(t, evse))
	}
	if a := aggs[0].(map[string]any); a["count"] != float64(1) || len(a["geohash"].(string)) != 5 {
		t.Errorf("aggregate %v", a)
	}
	// Without aggregate=true, no aggregates; live mode has no sandbox.
	if res := d.geosearch(t, testSiteLat, testSiteLng, 6000, "", nil); len(res["aggregates"].([]any)) != 0 {
		t.Errorf("aggregates %v", res["aggregates"])
	}
	if res := newDrive(j, j.LiveKey(t)).geosearch(t, testSiteLat, testSiteLng, 6000, "", nil); len(res["locations"].([]any)) != 0 {
		t.Errorf("live mode sees the sandbox: %s", jsonString(t, res))
	}
}
