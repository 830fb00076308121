package geoip

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/soar-dev/soar/plugins"
	"github.com/soar-dev/soar/plugins/sdk"
)

// Point is a place: an IP address to geolocate, or coordinates.
type Point struct {
	IP        string   `json:"ip,omitempty" jsonschema:"description=IP address to geolocate (instead of latitude/longitude)"`
	Latitude  *float64 `json:"latitude,omitempty" jsonschema:"minimum=-90,maximum=90"`
	Longitude *float64 `json:"longitude,omitempty" jsonschema:"minimum=-180,maximum=180"`
}

// DistanceInput is the input of distance.
type DistanceInput struct {
	From Point `json:"from"`
	To   Point `json:"to"`
}

// Place is a resolved point.
type Place struct {
	IP               string  `json:"ip"`
	Country          string  `json:"country"`
	City             string  `json:"city"`
	Latitude         float64 `json:"latitude"`
	Longitude        float64 `json:"longitude"`
	AccuracyRadiusKm int     `json:"accuracy_radius_km"`
}

// Distance is the answer of distance.
type Distance struct {
	// Known is false when a point's IP has no location (private, reserved
	// or unknown address); Reason says which and why, and Km is 0.
	Known  bool    `json:"known"`
	Reason string  `json:"reason"`
	Km     float64 `json:"km"`
	From   Place   `json:"from"`
	To     Place   `json:"to"`
}

// TravelPoint is a point with the time someone was there.
type TravelPoint struct {
	Point
	At time.Time `json:"at" jsonschema:"description=When the subject was at this point (RFC 3339)"`
}

// TravelInput is the input of travel.
type TravelInput struct {
	From TravelPoint `json:"from"`
	To   TravelPoint `json:"to"`
	// ThresholdKmh overrides the config's impossible_kmh for this call.
	ThresholdKmh float64 `json:"threshold_kmh,omitempty" jsonschema:"exclusiveMinimum=0"`
}

// Travel is the answer of travel.
type Travel struct {
	Distance
	Hours        float64 `json:"hours"`
	Kmh          float64 `json:"kmh"`
	ThresholdKmh float64 `json:"threshold_kmh"`
	// Impossible is true when Kmh exceeds ThresholdKmh. Two places at the
	// same instant count as an infinitely fast journey (Kmh is then computed
	// over one second).
	Impossible bool `json:"impossible"`
}

func (g *geo) distance(_ context.Context, call sdk.Call, in DistanceInput) (Distance, error) {
	return g.measure(call, in.From, in.To)
}

func (g *geo) measure(call sdk.Call, from, to Point) (Distance, error) {
	var d Distance
	var ok bool
	var err error
	if d.From, ok, d.Reason, err = g.resolve(call, "from", from); err != nil || !ok {
		return d, err
	}
	if d.To, ok, d.Reason, err = g.resolve(call, "to", to); err != nil || !ok {
		return d, err
	}
	d.Known = true
	d.Km = round(haversineKm(d.From.Latitude, d.From.Longitude, d.To.Latitude, d.To.Longitude), 1)
	return d, nil
}

// resolve turns p into coordinates. ok is false (with a reason) when p's IP
// has no location; err is for input that is wrong.
func (g *geo) resolve(call sdk.Call, name string, p Point) (Place, bool, string, error) {
	hasCoords := p.Latitude != nil || p.Longitude != nil
	switch {
	case p.IP != "" && hasCoords:
		return Place{}, false, "", plugins.Errorf(plugins.InvalidInput, "%s: give either ip or latitude/longitude, not both", name)
	case hasCoords && (p.Latitude == nil || p.Longitude == nil):
		return Place{}, false, "", plugins.Errorf(plugins.InvalidInput, "%s: latitude and longitude go together", name)
	case hasCoords:
		return Place{Latitude: *p.Latitude, Longitude: *p.Longitude}, true, "", nil
	case p.IP == "":
		return Place{}, false, "", plugins.Errorf(plugins.InvalidInput, "%s: needs ip or latitude/longitude", name)
	}
	cfg, err := g.config(call)
	if err != nil {
		return Place{}, false, "", err
	}
	addr, err := parseIP(p.IP)
	if err != nil {
		return Place{}, false, "", fmt.Errorf("%s: %w", name, err)
	}
	loc, err := g.locate(call.Logger, cfg, addr)
	if err != nil {
		return Place{}, false, "", err
	}
	place := Place{IP: loc.IP, Country: loc.Country, City: loc.City, Latitude: loc.Latitude,
		Longitude: loc.Longitude, AccuracyRadiusKm: loc.AccuracyRadiusKm}
	if !loc.HasLocation {
		reason := loc.Reason
		if reason == "" {
			reason = "no_location"
		}
		return place, false, fmt.Sprintf("%s: %s is %s", name, loc.IP, reason), nil
	}
	return place, true, "", nil
}

func (g *geo) travel(_ context.Context, call sdk.Call, in TravelInput) (Travel, error) {
	cfg := Config{ImpossibleKmh: DefaultImpossibleKmh}
	if err := call.DecodeConfig(&cfg); err != nil {
		return Travel{}, plugins.Errorf(plugins.Permanent, "%v", err)
	}
	t := Travel{ThresholdKmh: cfg.ImpossibleKmh}
	if in.ThresholdKmh > 0 {
		t.ThresholdKmh = in.ThresholdKmh
	}
	d, err := g.measure(call, in.From.Point, in.To.Point)
	if err != nil {
		return Travel{}, err
	}
	t.Distance = d
	elapsed := in.To.At.Sub(in.From.At).Abs()
	t.Hours = round(elapsed.Hours(), 3)
	if !d.Known {
		return t, nil
	}
	hours := math.Max(elapsed.Hours(), 1.0/3600)
	t.Kmh = round(d.Km/hours, 1)
	t.Impossible = d.Km > 0 && t.Kmh > t.ThresholdKmh
	return t, nil
}

func round(x float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(x*p) / p
}
