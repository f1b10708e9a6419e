// Package geo is the arithmetic of the Drive API's geosearch: great-circle
// distances, the latitude/longitude boxes a database index can prefilter a
// radius search with (split at the antimeridian, widened to every
// longitude when the circle holds a pole), and geohash grid cells for
// aggregating locations on a map. It is pure: no database, no I/O.
package geo

import (
	"math"
)

// EarthRadius is the mean Earth radius in meters (IUGG R1), the sphere the
// haversine formula measures on. Its error against the ellipsoid is below
// 0.5 %, far less than a charger's GPS position and a driver's sense of "near".
const EarthRadius = 6371008.8

// MaxDistance is half the circumference of that sphere: no two points are
// farther apart, so a radius of MaxDistance covers the whole globe.
const MaxDistance = math.Pi * EarthRadius

// Point is a WGS 84 position in degrees.
type Point struct {
	Lat, Lng float64
}

func rad(d float64) float64 { return d * math.Pi / 180 }
func deg(r float64) float64 { return r * 180 / math.Pi }

// Distance is the great-circle distance between a and b in meters
// (haversine). It is exact across the antimeridian and at the poles, where
// the longitude difference wraps or stops mattering, because it works on
// the sphere rather than on degrees.
func Distance(a, b Point) float64 {
	dLat := rad(b.Lat - a.Lat)
	dLng := rad(b.Lng - a.Lng)
	s1, s2 := math.Sin(dLat/2), math.Sin(dLng/2)
	h := s1*s1 + math.Cos(rad(a.Lat))*math.Cos(rad(b.Lat))*s2*s2
	// Rounding can push h a hair outside [0, 1] for (nearly) antipodal points.
	h = math.Min(math.Max(h, 0), 1)
	return 2 * EarthRadius * math.Asin(math.Sqrt(h))
}

// Box is a latitude/longitude rectangle in degrees, South <= North and
// West <= East: it never crosses the antimeridian (Boxes splits such a
// region in two).
type Box struct {
	South, West, North, East float64
}

// Contains reports whether p lies in the box (edges included).
func (b Box) Contains(p Point) bool {
	return p.Lat >= b.South && p.Lat <= b.North && p.Lng >= b.West && p.Lng <= b.East
}

// boxMargin widens boxes by about a millimetre so that floating-point
// rounding in the box arithmetic can never drop a point that is exactly on
// the circle; the haversine check afterwards is the authority.
const boxMargin = 1e-8

// Boxes returns one or two boxes that together contain every point within
// radius meters of c (and some points outside it, which the caller removes
// with Distance). This is the prefilter a (latitude, longitude) index can
// answer:
//
//   - Latitude: the circle spans c.Lat ± radius/R (radians). If that reaches
//     a pole, the circle contains the pole and therefore points of every
//     longitude: the box is the full longitude range from the lower edge
//     to the pole.
//   - Longitude: otherwise the widest longitude extent is at the latitude
//     where the circle's tangent meridians touch it, ±asin(sin(r/R)/cos(lat))
//     (J. P. Matuschek, "Finding Points Within a Distance of a
//     Latitude/Longitude Using Bounding Coordinates"). Using the latitude
//     band's extent at the centre latitude would miss points near the
//     circle's poleward edge at high latitudes.
//   - A range crossing ±180° is split in two boxes, one on each side of
//     the antimeridian, so each stays a plain West <= East range.
func Boxes(c Point, radius float64) []Box {
	if radius < 0 {
		radius = 0
	}
	ang := radius / EarthRadius // angular radius, radians
	if ang >= math.Pi {
		return []Box{{South: -90, West: -180, North: 90, East: 180}}
	}
	lat, lng := rad(c.Lat), rad(c.Lng)
	south, north := lat-ang, lat+ang
	if south <= -math.Pi/2 || north >= math.Pi/2 {
		// A pole is inside the circle: every longitude is reached.
		return []Box{{South: clampLat(deg(south) - boxMargin), West: -180, North: clampLat(deg(north) + boxMargin), East: 180}}
	}
	s := math.Sin(ang) / math.Cos(lat)
	if s >= 1 || ang >= math.Pi/2 {
		return []Box{{South: deg(south) - boxMargin, West: -180, North: deg(north) + boxMargin, East: 180}}
	}
	dLng := math.Asin(s)
	west, east := deg(lng-dLng)-boxMargin, deg(lng+dLng)+boxMargin
	sDeg, nDeg := deg(south)-boxMargin, deg(north)+boxMargin
	switch {
	case west < -180:
		return []Box{{South: sDeg, West: west + 360, North: nDeg, East: 180}, {South: sDeg, West: -180, North: nDeg, East: east}}
	case east > 180:
		return []Box{{South: sDeg, West: west, North: nDeg, East: 180}, {South: sDeg, West: -180, North: nDeg, East: east - 360}}
	}
	return []Box{{South: sDeg, West: west, North: nDeg, East: east}}
}

func clampLat(d float64) float64 { return math.Min(math.Max(d, -90), 90) }

// Geohash encoding (G. Niemeyer's public-domain scheme): base32 cells that
// halve longitude and latitude alternately. Cells never cross the
// antimeridian or the poles, so a grid of them aggregates locations
// anywhere without special cases, and a cell's hash names it stably for a
// map client.

const base32 = "0123456789bcdefghjkmnpqrstuvwxyz"

// MaxPrecision is the longest geohash Geohash makes (12 characters: cells
// of a few centimetres).
const MaxPrecision = 12

// Geohash returns the geohash of p with precision characters (1 to
// MaxPrecision; values outside are clamped).
func Geohash(p Point, precision int) string {
	precision = min(max(precision, 1), MaxPrecision)
	latLo, latHi := -90.0, 90.0
	lngLo, lngHi := -180.0, 180.0
	out := make([]byte, 0, precision)
	even := true // the first bit halves longitude
	var ch, bit int
	for len(out) < precision {
		if even {
			mid := (lngLo + lngHi) / 2
			if p.Lng >= mid {
				ch |= 1 << (4 - bit)
				lngLo = mid
			} else {
				lngHi = mid
			}
		} else {
			mid := (latLo + latHi) / 2
			if p.Lat >= mid {
				ch |= 1 << (4 - bit)
				latLo = mid
			} else {
				latHi = mid
			}
		}
		even = !even
		if bit++; bit == 5 {
			out = append(out, base32[ch])
			bit, ch = 0, 0
		}
	}
	return string(out)
}

// CellBounds returns the box a geohash stands for. ok is false for a
// string that is not a geohash.
func CellBounds(hash string) (b Box, ok bool) {
	if hash == "" || len(hash) > MaxPrecision {
		return Box{}, false
	}
	latLo, latHi := -90.0, 90.0
	lngLo, lngHi := -180.0, 180.0
	even := true
	for i := 0; i < len(hash); i++ {
		v := -1
		for j := 0; j < len(base32); j++ {
			if base32[j] == hash[i] {
				v = j
				break
			}
		}
		if v < 0 {
			return Box{}, false
		}
		for bit := 4; bit >= 0; bit-- {
			on := v&(1<<bit) != 0
			if even {
				mid := (lngLo + lngHi) / 2
				if on {
					lngLo = mid
				} else {
					lngHi = mid
				}
			} else {
				mid := (latLo + latHi) / 2
				if on {
					latLo = mid
				} else {
					latHi = mid
				}
			}
			even = !even
		}
	}
	return Box{South: latLo, West: lngLo, North: latHi, East: lngHi}, true
}

// Cell is one grid cell of an aggregation: how many points fell in it and
// where they are on average.
type Cell struct {
	Geohash string
	Bounds  Box
	Count   int
	// Centroid is the mean position of the cell's points (the mean of
	// their unit vectors, so it is right for cells at the poles too); a
	// marker drawn there sits among the points, not at the cell's corner.
	Centroid Point
}

// Grid accumulates points into geohash cells of one precision.
type Grid struct {
	precision int
	cells     map[string]*gridCell
	order     []string
}

type gridCell struct {
	n       int
	x, y, z float64
}

// NewGrid returns an empty grid of geohash cells with precision characters.
func NewGrid(precision int) *Grid {
	return &Grid{precision: min(max(precision, 1), MaxPrecision), cells: map[string]*gridCell{}}
}

// Add counts p in its cell.
func (g *Grid) Add(p Point) {
	h := Geohash(p, g.precision)
	c := g.cells[h]
	if c == nil {
		c = &gridCell{}
		g.cells[h] = c
		g.order = append(g.order, h)
	}
	lat, lng := rad(p.Lat), rad(p.Lng)
	c.n++
	c.x += math.Cos(lat) * math.Cos(lng)
	c.y += math.Cos(lat) * math.Sin(lng)
	c.z += math.Sin(lat)
}

// Cells returns the cells with points, in the order their first point was
// added (callers adding points nearest first get the nearest cells first).
func (g *Grid) Cells() []Cell {
	out := make([]Cell, 0, len(g.order))
	for _, h := range g.order {
		c := g.cells[h]
		b, _ := CellBounds(h)
		n := float64(c.n)
		x, y, z := c.x/n, c.y/n, c.z/n
		centroid := Point{Lat: deg(math.Atan2(z, math.Hypot(x, y))), Lng: deg(math.Atan2(y, x))}
		if math.Hypot(x, y) < 1e-12 { // at a pole the longitude is arbitrary
			centroid.Lng = (b.West + b.East) / 2
		}
		// Keep the centroid inside its cell despite rounding.
		centroid.Lat = math.Min(math.Max(centroid.Lat, b.South), b.North)
		centroid.Lng = math.Min(math.Max(centroid.Lng, b.West), b.East)
		out = append(out, Cell{Geohash: h, Bounds: b, Count: c.n, Centroid: centroid})
	}
	return out
}
