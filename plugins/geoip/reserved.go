package geoip

import "net/netip"

// reservedPrefixes are special-purpose ranges (IANA IPv4/IPv6 special
// registries) that netip's predicates do not already cover. They never have
// a location, so lookups answer found:false without asking the database.
var reservedPrefixes = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15",
		"198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4", "255.255.255.255/32",
		"64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32", "3fff::/20", "5f00::/16",
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// unroutable says why addr can have no location, or "" when it can.
func unroutable(addr netip.Addr) string {
	switch {
	case addr.IsLoopback():
		return "loopback"
	case addr.IsPrivate():
		return "private"
	case addr.IsMulticast():
		return "multicast"
	case addr.IsLinkLocalUnicast():
		return "link_local"
	case addr.IsUnspecified():
		return "unspecified"
	}
	for _, p := range reservedPrefixes {
		if p.Contains(addr) {
			return "reserved"
		}
	}
	return ""
}
