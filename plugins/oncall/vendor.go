package oncall

// vendorUser is one on-call user as a vendor names them, and the responder
// derived from them.
type vendorUser struct {
	id, email string // the vendor's user id; the e-mail, when known
	r         Responder
}

// uniqueResponders turns each tier's on-call users into responders: one
// per vendor user (a user on call through two schedules is paged once),
// with ids no two users share. An id derived from an e-mail's local part
// falls back to the whole e-mail, and that to the vendor's id, when another
// user would get the same id: alice@corp and alice@subsidiary are two
// people to page and to look up in HR.
func uniqueResponders(tiers [][]vendorUser) [][]Responder {
	owners := map[string]map[string]bool{} // derived id → vendor user ids
	for _, users := range tiers {
		for _, u := range users {
			if owners[u.r.ID] == nil {
				owners[u.r.ID] = map[string]bool{}
			}
			owners[u.r.ID][u.id] = true
		}
	}
	out := make([][]Responder, len(tiers))
	for i, users := range tiers {
		out[i] = []Responder{}
		seen := map[string]bool{}
		for _, u := range users {
			r := u.r
			if len(owners[r.ID]) > 1 {
				if u.email != "" && r.ID != u.email {
					r.ID = u.email
				} else if u.id != "" {
					r.ID = u.id
				}
			}
			key := u.id
			if key == "" {
				key = "\x00" + r.ID
			}
			if !seen[key] {
				seen[key] = true
				out[i] = append(out[i], r)
			}
		}
	}
	return out
}
