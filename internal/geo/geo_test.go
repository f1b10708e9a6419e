package geo

import (
	"math"
	"math/rand/v2"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestDistanceKnownValues(t *testing.T) {
	for _, c := range []struct {
		name string
		a, b Point
		want float64 // meters
		tol  float64
	}{
		{"same point", Point{52.29, 20.9}, Point{52.29, 20.9}, 0, 1e-9},
		// One degree of latitude on the sphere is R·π/180.
		{"one degree of latitude", Point{10, 5}, Point{11, 5}, EarthRadius * math.Pi / 180, 1e-6},
		// 0.002° of longitude on the equator, across the antimeridian.
		{"across the antimeridian", Point{0, 179.999}, Point{0, -179.999}, EarthRadius * rad(0.002), 1e-6},
		// Two points 0.001° from the North Pole on opposite meridians are
		// 0.002° of arc apart, through the pole.
		{"through the north pole", Point{89.999, 0}, Point{89.999, 180}, EarthRadius * rad(0.002), 1e-6},
		{"through the south pole", Point{-89.999, 90}, Point{-89.999, -90}, EarthRadius * rad(0.002), 1e-6},
		{"antipodes", Point{0, 0}, Point{0, 180}, MaxDistance, 1e-6},
		// The two sandbox sites of spec 003 (Warsaw), about 4.97 km apart.
		{"sandbox sites", Point{52.290056, 20.907028}, Point{52.334242, 20.899305}, 4944, 10},
	} {
		if got := Distance(c.a, c.b); !near(got, c.want, c.tol) {
			t.Errorf("%s: Distance = %.6f, want %.6f", c.name, got, c.want)
		}
		if got := Distance(c.b, c.a); !near(got, c.want, c.tol) {
			t.Errorf("%s: Distance reversed = %.6f, want %.6f", c.name, got, c.want)
		}
	}
}

func inAny(bs []Box, p Point) bool {
	for _, b := range bs {
		if b.Contains(p) {
			return true
		}
	}
	return false
}

// randomNear returns a point at a uniformly random bearing and a random
// distance up to maxDist from c (the direct geodesic problem on the sphere).
func randomNear(r *rand.Rand, c Point, maxDist float64) Point {
	d := r.Float64() * maxDist / EarthRadius
	brg := r.Float64() * 2 * math.Pi
	lat1, lng1 := rad(c.Lat), rad(c.Lng)
	lat2 := math.Asin(math.Sin(lat1)*math.Cos(d) + math.Cos(lat1)*math.Sin(d)*math.Cos(brg))
	lng2 := lng1 + math.Atan2(math.Sin(brg)*math.Sin(d)*math.Cos(lat1), math.Cos(d)-math.Sin(lat1)*math.Sin(lat2))
	lng := math.Mod(deg(lng2)+540, 360) - 180
	return Point{Lat: deg(lat2), Lng: lng}
}

// Every point within the radius is inside the boxes, wherever the circle
// is: the equator, high latitudes, straddling the antimeridian, holding a
// pole, or covering the globe.
func TestBoxesContainTheCircle(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	centers := []Point{
		{0, 0}, {52.290056, 20.907028}, {0, 179.9999}, {0, -179.9999}, {65, 179.5}, {-40, -179.8},
		{89.9999, 0}, {-89.9999, 123}, {89, 179.99}, {-88.5, -179.99}, {78.2, 15.6}, {90, 0}, {-90, 0},
	}
	radii := []float64{1, 500, 5000, 150000, 2000000, 9000000, MaxDistance}
	for _, c := range centers {
		for _, radius := range radii {
			boxes := Boxes(c, radius)
			if len(boxes) == 0 || len(boxes) > 2 {
				t.Fatalf("Boxes(%v, %v) = %v", c, radius, boxes)
			}
			for _, b := range boxes {
				if b.West > b.East || b.South > b.North || b.West < -180 || b.East > 180 || b.South < -90.0001 || b.North > 90.0001 {
					t.Fatalf("Boxes(%v, %v): malformed box %+v", c, radius, b)
				}
			}
			for i := 0; i < 2000; i++ {
				p := randomNear(r, c, radius)
				if Distance(c, p) > radius {
					continue // rounding in randomNear
				}
				if !inAny(boxes, p) {
					t.Fatalf("Boxes(%v, %v) = %+v misses %v at %.3f m", c, radius, boxes, p, Distance(c, p))
				}
			}
		}
	}
}

// The boxes are tight enough to be a useful prefilter: for a small circle
// away from the poles they cover about 4/π of the circle's area, not a
// band of the globe.
func TestBoxesAreTight(t *testing.T) {
	bs := Boxes(Point{52.290056, 20.907028}, 500)
	if len(bs) != 1 {
		t.Fatalf("boxes %v", bs)
	}
	b := bs[0]
	if h := Distance(Point{b.South, b.West}, Point{b.North, b.West}); !near(h, 1000, 1) {
		t.Errorf("box height %.2f m, want about 1000", h)
	}
	if w := Distance(Point{52.290056, b.West}, Point{52.290056, b.East}); !near(w, 1000, 2) {
		t.Errorf("box width %.2f m, want about 1000", w)
	}
	// Straddling the antimeridian: two narrow boxes, not the whole band.
	bs = Boxes(Point{0, 179.999}, 1000)
	if len(bs) != 2 || bs[0].East != 180 || bs[1].West != -180 || bs[0].West < 179.98 || bs[1].East > -179.99 {
		t.Errorf("antimeridian boxes %+v", bs)
	}
	// Holding the pole: every longitude, from the lower edge to the pole.
	bs = Boxes(Point{89.999, 10}, 1000)
	if len(bs) != 1 || bs[0].West != -180 || bs[0].East != 180 || bs[0].North != 90 || bs[0].South < 89.98 {
		t.Errorf("polar boxes %+v", bs)
	}
}

func TestGeohash(t *testing.T) {
	// Reference values from the geohash literature.
	for _, c := range []struct {
		p    Point
		prec int
		want string
	}{
		{Point{57.64911, 10.40744}, 11, "u4pruydqqvj"},
		{Point{42.6, -5.6}, 5, "ezs42"},
		{Point{-25.382708, -49.265506}, 7, "6gkzwgj"},
		{Point{0, 0}, 1, "s"},
		{Point{-90, -180}, 3, "000"},
		{Point{90, 180}, 3, "zzz"},
	} {
		if got := Geohash(c.p, c.prec); got != c.want {
			t.Errorf("Geohash(%v, %d) = %s, want %s", c.p, c.prec, got, c.want)
		}
		b, ok := CellBounds(c.want)
		if !ok || !b.Contains(c.p) {
			t.Errorf("CellBounds(%s) = %+v, %v: does not contain %v", c.want, b, ok, c.p)
		}
	}
	if _, ok := CellBounds("u4a"); ok { // 'a' is not in the alphabet
		t.Error("CellBounds accepted an invalid hash")
	}
}

func TestGridAggregates(t *testing.T) {
	g := NewGrid(5)
	// Three points in one cell near Warsaw, one in another; two on each
	// side of the antimeridian stay in two cells; two around the pole.
	pts := []Point{{52.2900, 20.9070}, {52.2901, 20.9071}, {52.2902, 20.9069}, {52.3342, 20.8993},
		{0.01, 179.999}, {0.01, -179.999}, {89.999, 0}, {89.999, 90}}
	for _, p := range pts {
		g.Add(p)
	}
	cells := g.Cells()
	total := 0
	for _, c := range cells {
		total += c.Count
		if !c.Bounds.Contains(c.Centroid) {
			t.Errorf("cell %s: centroid %v outside %+v", c.Geohash, c.Centroid, c.Bounds)
		}
		if len(c.Geohash) != 5 {
			t.Errorf("cell %s: precision %d", c.Geohash, len(c.Geohash))
		}
	}
	if total != len(pts) {
		t.Fatalf("cells count %d points, want %d", total, len(pts))
	}
	if cells[0].Count != 3 || !near(cells[0].Centroid.Lat, 52.2901, 1e-6) || !near(cells[0].Centroid.Lng, 20.907, 1e-6) {
		t.Errorf("first cell %+v", cells[0])
	}
	if len(cells) != 6 {
		t.Errorf("%d cells, want 6: %+v", len(cells), cells)
	}
}

func BenchmarkDistance(b *testing.B) {
	a, c := Point{52.290056, 20.907028}, Point{52.334242, 20.899305}
	for b.Loop() {
		_ = Distance(a, c)
	}
}
