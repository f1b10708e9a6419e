package driveapi

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/joule-ev/joule/internal/geo"
	"github.com/joule-ev/joule/internal/network"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/store"
)

// Geosearch finds the organization's locations within a radius, nearest
// first, with their EVSEs and a status derived from what the chargers
// report, optionally aggregated into geohash grid cells for a map.
//
// How a search runs (all of it bounded by the radius and the limit):
//
//  1. geo.Boxes turns the circle into one or two latitude/longitude boxes
//     (two when it straddles the antimeridian; every longitude when it
//     holds a pole). The locations_org_geo index answers them: one
//     latitude range of one organization and mode, longitude checked from
//     the index entries.
//  2. The haversine distance drops the box's corners: what is left is
//     exactly the circle.
//  3. When the filters look at chargers (statuses, capabilities, power
//     type), the EVSEs of the locations in the circle are read in batches
//     and filtered; otherwise only those of the locations returned are.
//  4. Sorted by distance, cut at limit; aggregates count every match, not
//     just the page, as a map's clusters need.

// Location statuses.
const (
	LocAvailable  = "AVAILABLE"
	LocOccupied   = "OCCUPIED"
	LocOutOfOrder = "OUT_OF_ORDER"
	LocUnknown    = "UNKNOWN"
)

// GeoQuery is the query string of POST /drive/v1/geosearch/radius.
type GeoQuery struct {
	Latitude             float64 `query:"latitude" required:"true" minimum:"-90" maximum:"90" doc:"Centre latitude, WGS 84 degrees"`
	Longitude            float64 `query:"longitude" required:"true" minimum:"-180" maximum:"180" doc:"Centre longitude, WGS 84 degrees"`
	Distance             float64 `query:"distance" required:"true" minimum:"0" maximum:"20015087" doc:"Radius in meters (great-circle)"`
	Limit                int     `query:"limit" minimum:"1" maximum:"1000" default:"100" doc:"Most locations returned, nearest first"`
	Aggregate            bool    `query:"aggregate" doc:"Also count the matching locations per grid cell (aggregates)"`
	AggregationPrecision int     `query:"aggregationPrecision" minimum:"1" maximum:"12" default:"5" doc:"Grid cell size as a geohash length: 1 is about 5000 km, 5 about 5 km, 7 about 150 m"`
}

// GeoFilters narrow the search. Empty lists do not filter.
type GeoFilters struct {
	LocationStatuses []string `json:"locationStatuses,omitempty" maxItems:"4" enum:"AVAILABLE,OCCUPIED,OUT_OF_ORDER,UNKNOWN" doc:"Locations whose status is one of these"`
	Capabilities     []string `json:"capabilities,omitempty" maxItems:"4" enum:"REMOTE_START_STOP_CAPABLE,RFID_READER,UNLOCK_CAPABLE,CHARGING_PROFILE_CAPABLE" doc:"Only EVSEs whose charging station has all of these"`
	PowerType        []string `json:"powerType,omitempty" maxItems:"4" enum:"AC,DC,AC_1_PHASE,AC_3_PHASE" doc:"Only EVSEs with a connector of one of these power types (AC matches both AC types)"`
	Open247          *bool    `json:"open247,omitempty" doc:"true: only locations open 24/7"`
}

// GeoBody is the request body.
type GeoBody struct {
	Filters GeoFilters `json:"filters,omitempty" required:"false"`
}

// Coordinates are WGS 84 degrees.
type Coordinates struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
}

// GeoAddress is a location's address.
type GeoAddress struct {
	StreetName string `json:"streetName"`
	City       string `json:"city"`
	PostalCode string `json:"postalCode,omitempty"`
	Country    string `json:"country" doc:"ISO 3166-1 alpha-3"`
}

// GeoConnector is a connector of an EVSE.
type GeoConnector struct {
	ConnectorID    string `json:"connectorId" doc:"Pass to POST .../sessions/start"`
	ConnectorLabel string `json:"connectorLabel" doc:"The connector's number on its charging station"`
	Status         string `json:"status" doc:"AVAILABLE, OCCUPIED, OUT_OF_ORDER or UNKNOWN"`
	OCPPStatus     string `json:"ocppStatus" doc:"The charger's last OCPP status (Available, Charging, Faulted, ...)"`
	PowerType      string `json:"powerType" doc:"AC_1_PHASE, AC_3_PHASE or DC"`
	MaxPower       int64  `json:"maxPower" doc:"Watts"`
	Standard       string `json:"standard"`
	Format         string `json:"format"`
}

// GeoEVSE is an EVSE at a location.
type GeoEVSE struct {
	EvseID              string         `json:"evseId"`
	Status              string         `json:"status" doc:"AVAILABLE, OCCUPIED, OUT_OF_ORDER or UNKNOWN"`
	ChargingStationName string         `json:"chargingStationName"`
	Capabilities        []string       `json:"capabilities" doc:"Of its charging station, e.g. REMOTE_START_STOP_CAPABLE"`
	Connectors          []GeoConnector `json:"connectors"`
}

// GeoLocation is a location found.
type GeoLocation struct {
	ID           string               `json:"id"`
	Name         string               `json:"name"`
	Coordinates  Coordinates          `json:"coordinates"`
	Address      GeoAddress           `json:"address"`
	Distance     float64              `json:"distance" doc:"Meters from the centre (great-circle), to 0.1 m"`
	Status       string               `json:"status" doc:"AVAILABLE, OCCUPIED, OUT_OF_ORDER or UNKNOWN (see docs/drive-api.md)"`
	Open247      bool                 `json:"open247"`
	OpeningTimes network.OpeningTimes `json:"openingTimes"`
	EVSEs        []GeoEVSE            `json:"evses"`
}

// Bounds is a grid cell's extent.
type Bounds struct {
	North float64 `json:"north"`
	South float64 `json:"south"`
	East  float64 `json:"east"`
	West  float64 `json:"west"`
}

// Aggregate is one grid cell with matching locations.
type Aggregate struct {
	Geohash     string      `json:"geohash"`
	Count       int         `json:"count" doc:"Matching locations in the cell (all of them, not only those returned)"`
	Coordinates Coordinates `json:"coordinates" doc:"Mean position of the cell's locations"`
	Bounds      Bounds      `json:"bounds"`
}

// GeoResult is the answer.
type GeoResult struct {
	Locations  []GeoLocation `json:"locations"`
	Aggregates []Aggregate   `json:"aggregates" doc:"Empty unless aggregate=true"`
}

func (a *Drive) registerGeosearch() {
	huma.Register(a.hapi, op("geosearch-radius", http.MethodPost, "/geosearch/radius", "Geosearch", "Find locations within a radius",
		"Locations of the organization (and mode) within distance meters of the point, nearest first, with their EVSEs and "+
			"connectors. Correct at any latitude and across the antimeridian. A location's status is derived from its "+
			"connectors' OCPP statuses and its chargers' online state: AVAILABLE if any connector is available, else OCCUPIED if "+
			"any is in use, else UNKNOWN if any is offline or has not reported, else OUT_OF_ORDER. Filters on capabilities and "+
			"power type select EVSEs (a location without a selected EVSE is left out) and the status is derived from the selected "+
			"ones. Do not offer starts only on AVAILABLE connectors: statuses can lag (spec 003)."),
		func(ctx context.Context, in *struct {
			GeoQuery
			Body *GeoBody
		}) (*Body[GeoResult], error) {
			req := geoRequest{center: geo.Point{Lat: in.Latitude, Lng: in.Longitude}, radius: in.Distance, limit: in.Limit,
				aggregate: in.Aggregate, precision: in.AggregationPrecision}
			if in.Body != nil {
				req.filters = in.Body.Filters
			}
			res, err := geosearch(ctx, a.DB.Q(), principal(ctx), req)
			if err != nil {
				return nil, fail(ctx, err)
			}
			return one(res), nil
		})
}

type geoRequest struct {
	center    geo.Point
	radius    float64
	limit     int
	aggregate bool
	precision int
	filters   GeoFilters
}

// candidate is a location in the circle.
type candidate struct {
	id       string
	at       geo.Point
	distance float64
	evses    []GeoEVSE
	status   string
}

// inClause caps the ids of one IN (...) list (PostgreSQL and SQLite both
// accept far more, but large statements cost parse time and memory).
const inClause = 500

func geosearch(ctx context.Context, q store.Querier, p org.Principal, req geoRequest) (GeoResult, error) {
	if req.limit <= 0 {
		req.limit = 100
	}
	if req.precision <= 0 {
		req.precision = 5
	}
	f := req.filters
	needOpen := f.Open247 != nil && *f.Open247
	cands, err := candidates(ctx, q, p, req.center, req.radius, needOpen)
	if err != nil {
		return GeoResult{}, err
	}
	slices.SortFunc(cands, func(x, y *candidate) int {
		return cmp.Or(cmp.Compare(x.distance, y.distance), cmp.Compare(x.id, y.id))
	})
	evseFilter := len(f.Capabilities) > 0 || len(f.PowerType) > 0
	stationFilters := evseFilter || len(f.LocationStatuses) > 0
	if stationFilters {
		// The filters decide which locations match: read the chargers of
		// every location in the circle.
		if err := loadEVSEs(ctx, q, p, cands); err != nil {
			return GeoResult{}, err
		}
		kept := cands[:0]
		for _, c := range cands {
			c.evses = selectEVSEs(c.evses, f)
			if evseFilter && len(c.evses) == 0 {
				continue
			}
			c.status = locationStatus(c.evses)
			if len(f.LocationStatuses) > 0 && !slices.Contains(f.LocationStatuses, c.status) {
				continue
			}
			kept = append(kept, c)
		}
		cands = kept
	}
	res := GeoResult{Locations: []GeoLocation{}, Aggregates: []Aggregate{}}
	if req.aggregate {
		g := geo.NewGrid(req.precision)
		for _, c := range cands {
			g.Add(c.at)
		}
		for _, cell := range g.Cells() {
			res.Aggregates = append(res.Aggregates, Aggregate{Geohash: cell.Geohash, Count: cell.Count,
				Coordinates: Coordinates{Latitude: cell.Centroid.Lat, Longitude: cell.Centroid.Lng},
				Bounds:      Bounds{North: cell.Bounds.North, South: cell.Bounds.South, East: cell.Bounds.East, West: cell.Bounds.West}})
		}
	}
	page := cands[:min(len(cands), req.limit)]
	if !stationFilters {
		if err := loadEVSEs(ctx, q, p, page); err != nil {
			return GeoResult{}, err
		}
		for _, c := range page {
			c.status = locationStatus(c.evses)
		}
	}
	locs, err := loadLocations(ctx, q, p, page)
	if err != nil {
		return GeoResult{}, err
	}
	for _, c := range page {
		l, ok := locs[c.id]
		if !ok {
			continue // deleted since step 1
		}
		l.Distance = math.Round(c.distance*10) / 10
		l.Status = c.status
		l.EVSEs = c.evses
		if l.EVSEs == nil {
			l.EVSEs = []GeoEVSE{}
		}
		res.Locations = append(res.Locations, l)
	}
	return res, nil
}

// candidates reads the locations within radius of center (steps 1 and 2).
// With open247, only locations open around the clock are kept.
func candidates(ctx context.Context, q store.Querier, p org.Principal, center geo.Point, radius float64, open247 bool) ([]*candidate, error) {
	boxes := geo.Boxes(center, radius)
	args := []any{p.OrgID, p.TestMode, boxes[0].South, boxes[0].North}
	var lngs []string
	for _, b := range boxes { // the boxes share one latitude band
		args = append(args, b.West, b.East)
		lngs = append(lngs, fmt.Sprintf("longitude BETWEEN $%d AND $%d", len(args)-1, len(args)))
	}
	cols := "id, latitude, longitude"
	if open247 {
		cols += ", opening_times"
	}
	rows, err := q.QueryContext(ctx, `SELECT `+cols+` FROM locations WHERE org_id = $1 AND test_mode = $2 AND latitude BETWEEN $3 AND $4 AND (`+
		strings.Join(lngs, " OR ")+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("driveapi: geosearch: %w", err)
	}
	defer rows.Close()
	var out []*candidate
	for rows.Next() {
		c := &candidate{}
		var hours string
		dest := []any{&c.id, &c.at.Lat, &c.at.Lng}
		if open247 {
			dest = append(dest, &hours)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("driveapi: geosearch: %w", err)
		}
		if c.distance = geo.Distance(center, c.at); c.distance > radius {
			continue
		}
		if open247 {
			var ot network.OpeningTimes
			if err := store.FromJSON(hours, &ot); err != nil || !ot.TwentyFourSeven {
				continue
			}
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// loadEVSEs reads the EVSEs of the candidates, in batches.
func loadEVSEs(ctx context.Context, q store.Querier, p org.Principal, cands []*candidate) error {
	byID := make(map[string]*candidate, len(cands))
	for _, c := range cands {
		byID[c.id] = c
		c.evses = nil
	}
	for start := 0; start < len(cands); start += inClause {
		chunk := cands[start:min(start+inClause, len(cands))]
		args := []any{p.OrgID, p.TestMode}
		marks := make([]string, len(chunk))
		for i, c := range chunk {
			args = append(args, c.id)
			marks[i] = "$" + strconv.Itoa(len(args))
		}
		rows, err := q.QueryContext(ctx, `SELECT s.location_id, s.name, s.capabilities, s.online, c.id, c.connector_number, c.evse_id, c.standard,
			c.format, c.power_type, c.max_power_w, c.status, c.status_updated_at
			FROM chargestations s JOIN connectors c ON c.chargestation_id = s.id
			WHERE s.org_id = $1 AND s.test_mode = $2 AND s.location_id IN (`+strings.Join(marks, ",")+`)
			ORDER BY s.location_id, s.name, s.id, c.connector_number`, args...)
		if err != nil {
			return fmt.Errorf("driveapi: geosearch chargers: %w", err)
		}
		for rows.Next() {
			var locID, name, caps string
			var online bool
			var gc GeoConnector
			var number int
			var evseID string
			var reported sql.NullTime
			if err := rows.Scan(&locID, &name, &caps, &online, &gc.ConnectorID, &number, &evseID, &gc.Standard, &gc.Format, &gc.PowerType,
				&gc.MaxPower, &gc.OCPPStatus, &reported); err != nil {
				rows.Close()
				return fmt.Errorf("driveapi: geosearch chargers: %w", err)
			}
			var capabilities []string
			if err := store.FromJSON(caps, &capabilities); err != nil {
				rows.Close()
				return err
			}
			if capabilities == nil {
				capabilities = []string{}
			}
			gc.ConnectorLabel = strconv.Itoa(number)
			gc.Status = connectorStatus(online, reported.Valid, gc.OCPPStatus)
			c := byID[locID]
			// One connector per EVSE today (OCPP 1.6 numbers connectors,
			// each its own EVSE); connectors sharing an evse_id (OCPP
			// 2.0.1) group under one EVSE.
			if n := len(c.evses); n > 0 && c.evses[n-1].EvseID == evseID && evseID != "" {
				e := &c.evses[n-1]
				e.Connectors = append(e.Connectors, gc)
				e.Status = locationStatus([]GeoEVSE{{Status: e.Status}, {Status: gc.Status}})
				continue
			}
			c.evses = append(c.evses, GeoEVSE{EvseID: evseID, Status: gc.Status, ChargingStationName: name, Capabilities: capabilities,
				Connectors: []GeoConnector{gc}})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("driveapi: geosearch chargers: %w", err)
		}
	}
	return nil
}

// connectorStatus derives a connector's Drive status from its OCPP 1.6
// status and its charger's state. A charger that is offline, or has not
// reported this connector since it was registered, leaves the status
// UNKNOWN: what it last said may be stale or never have been said.
func connectorStatus(online, reported bool, ocpp string) string {
	if !online || !reported {
		return LocUnknown
	}
	switch ocpp {
	case "Available":
		return LocAvailable
	case "Preparing", "Charging", "SuspendedEV", "SuspendedEVSE", "Finishing", "Reserved":
		return LocOccupied
	case "Unavailable", "Faulted":
		return LocOutOfOrder
	}
	return LocUnknown
}

// locationStatus is the best of its EVSEs' statuses for a driver looking
// for a charger: AVAILABLE, then OCCUPIED (usable soon), then UNKNOWN (may
// be usable), and OUT_OF_ORDER only when every EVSE is. No EVSEs: UNKNOWN.
func locationStatus(evses []GeoEVSE) string {
	rank := map[string]int{LocAvailable: 4, LocOccupied: 3, LocUnknown: 2, LocOutOfOrder: 1}
	best := ""
	for _, e := range evses {
		if rank[e.Status] > rank[best] {
			best = e.Status
		}
	}
	if best == "" {
		return LocUnknown
	}
	return best
}

// selectEVSEs keeps the EVSEs that pass the capability and power-type
// filters.
func selectEVSEs(evses []GeoEVSE, f GeoFilters) []GeoEVSE {
	if len(f.Capabilities) == 0 && len(f.PowerType) == 0 {
		return evses
	}
	var out []GeoEVSE
	for _, e := range evses {
		ok := true
		for _, c := range f.Capabilities {
			ok = ok && slices.Contains(e.Capabilities, c)
		}
		if ok && len(f.PowerType) > 0 {
			ok = slices.ContainsFunc(e.Connectors, func(c GeoConnector) bool {
				for _, want := range f.PowerType {
					if c.PowerType == want || (want == "AC" && strings.HasPrefix(c.PowerType, "AC")) {
						return true
					}
				}
				return false
			})
		}
		if ok {
			out = append(out, e)
		}
	}
	return out
}

// loadLocations reads the returned locations' details, in batches.
func loadLocations(ctx context.Context, q store.Querier, p org.Principal, cands []*candidate) (map[string]GeoLocation, error) {
	out := make(map[string]GeoLocation, len(cands))
	for start := 0; start < len(cands); start += inClause {
		chunk := cands[start:min(start+inClause, len(cands))]
		args := []any{p.OrgID, p.TestMode}
		marks := make([]string, len(chunk))
		for i, c := range chunk {
			args = append(args, c.id)
			marks[i] = "$" + strconv.Itoa(len(args))
		}
		rows, err := q.QueryContext(ctx, `SELECT id, name, address, latitude, longitude, opening_times FROM locations
			WHERE org_id = $1 AND test_mode = $2 AND id IN (`+strings.Join(marks, ",")+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("driveapi: geosearch locations: %w", err)
		}
		for rows.Next() {
			var l GeoLocation
			var addr, hours string
			if err := rows.Scan(&l.ID, &l.Name, &addr, &l.Coordinates.Latitude, &l.Coordinates.Longitude, &hours); err != nil {
				rows.Close()
				return nil, fmt.Errorf("driveapi: geosearch locations: %w", err)
			}
			var a network.Address
			if err := store.FromJSON(addr, &a); err != nil {
				rows.Close()
				return nil, err
			}
			if err := store.FromJSON(hours, &l.OpeningTimes); err != nil {
				rows.Close()
				return nil, err
			}
			l.Address = GeoAddress{StreetName: a.StreetAndNumber, City: a.City, PostalCode: a.PostalCode, Country: a.Country}
			l.Open247 = l.OpeningTimes.TwentyFourSeven
			out[l.ID] = l
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("driveapi: geosearch locations: %w", err)
		}
	}
	return out, nil
}
