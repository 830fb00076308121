package geoip

import (
	"fmt"
	"net/netip"
	"strings"
)

// fillCity reads a City, Enterprise or Country database into loc.
func fillCity(l *loaded, addr netip.Addr, loc *Location) error {
	if strings.Contains(l.kind, "Country") {
		c, err := l.reader.Country(addr)
		if err != nil {
			return err
		}
		if !c.HasData() {
			return nil
		}
		loc.Found = true
		loc.Network = c.Traits.Network.String()
		loc.Country, loc.CountryName, loc.InEU = c.Country.ISOCode, c.Country.Names.English, c.Country.IsInEuropeanUnion
		loc.RegisteredCountry, loc.Continent = c.RegisteredCountry.ISOCode, c.Continent.Code
		loc.IsAnycast = c.Traits.IsAnycast
		return nil
	}
	if !strings.Contains(l.kind, "City") && !strings.Contains(l.kind, "Enterprise") {
		return fmt.Errorf("city_db is a %s database, not City, Enterprise or Country", l.kind)
	}
	c, err := l.reader.City(addr)
	if err != nil {
		return err
	}
	if !c.HasData() {
		return nil
	}
	loc.Found = true
	loc.Network = c.Traits.Network.String()
	loc.Country, loc.CountryName, loc.InEU = c.Country.ISOCode, c.Country.Names.English, c.Country.IsInEuropeanUnion
	loc.RegisteredCountry, loc.Continent = c.RegisteredCountry.ISOCode, c.Continent.Code
	if len(c.Subdivisions) > 0 {
		loc.Subdivision, loc.SubdivisionCode = c.Subdivisions[0].Names.English, c.Subdivisions[0].ISOCode
	}
	loc.City, loc.PostalCode = c.City.Names.English, c.Postal.Code
	if c.Location.Latitude != nil && c.Location.Longitude != nil {
		loc.HasLocation, loc.Latitude, loc.Longitude = true, *c.Location.Latitude, *c.Location.Longitude
	}
	loc.AccuracyRadiusKm, loc.TimeZone = int(c.Location.AccuracyRadius), c.Location.TimeZone
	loc.IsAnycast = c.Traits.IsAnycast
	return nil
}

func fillASN(l *loaded, addr netip.Addr, loc *Location) error {
	if !strings.Contains(l.kind, "ASN") {
		return fmt.Errorf("asn_db is a %s database, not ASN", l.kind)
	}
	a, err := l.reader.ASN(addr)
	if err != nil {
		return err
	}
	if !a.HasData() {
		return nil
	}
	loc.Found = true
	loc.ASN, loc.ASOrg = int(a.AutonomousSystemNumber), a.AutonomousSystemOrganization
	if loc.Network == "" {
		loc.Network = a.Network.String()
	}
	return nil
}

func fillAnonymous(l *loaded, addr netip.Addr, loc *Location) error {
	if !strings.Contains(l.kind, "Anonymous") {
		return fmt.Errorf("anonymous_db is a %s database, not Anonymous-IP", l.kind)
	}
	a, err := l.reader.AnonymousIP(addr)
	if err != nil {
		return err
	}
	// Absence from the Anonymous-IP database is itself an answer (not
	// anonymous), but it does not make an address "found".
	loc.IsAnonymous = a.IsAnonymous || a.IsAnonymousVPN || a.IsPublicProxy || a.IsTorExitNode || a.IsResidentialProxy
	loc.IsAnonymousVPN, loc.IsHostingProvider = a.IsAnonymousVPN, a.IsHostingProvider
	loc.IsPublicProxy, loc.IsTorExitNode = a.IsPublicProxy, a.IsTorExitNode
	return nil
}
