package service

import (
	"context"
	"slices"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/store"
)

// OfficeMember is a member of the channel office and whether they hold the
// office's key yet.
type OfficeMember struct {
	Username    string `json:"username"`
	DisplayName string `json:"display_name"`
	// Access is "granted", or "pending" until a current member grants it.
	Access string `json:"access"`
	// Grantable reports whether GrantOffice would accept them now (active
	// account with working keys).
	Grantable bool `json:"grantable"`
}

// officeScanBatch is how many accounts one store call reads while looking
// for office members.
const officeScanBatch = 500

// OfficeMembers lists everyone holding the office role, pending ones first,
// for a current office member deciding whom to let in (GrantOffice). Only
// someone who holds the office key may ask: a pending member or an
// administrator learns nothing here that the directory does not show.
func (s *Service) OfficeMembers(ctx context.Context, a *Actor) ([]OfficeMember, error) {
	var out []OfficeMember
	err := s.inTx(ctx, false, func(tx store.Tx) error {
		if _, err := s.officeIdentity(ctx, tx, a); err != nil {
			return err
		}
		keys, err := tx.GroupKeys(ctx, officeGroup)
		if err != nil {
			return err
		}
		granted := map[string]bool{}
		for _, k := range keys {
			granted[k.UserID] = true
		}
		after := ""
		for {
			us, err := tx.ListUsers(ctx, "", after, officeScanBatch)
			if err != nil {
				return err
			}
			for _, u := range us {
				if u.Disabled || !slices.Contains(u.Roles, string(channel.RoleOffice)) {
					continue
				}
				m := OfficeMember{Username: u.Username, DisplayName: u.DisplayName, Access: "pending", Grantable: u.KeyState == keysActive}
				if granted[u.ID] {
					m.Access, m.Grantable = "granted", false
				}
				out = append(out, m)
			}
			if len(us) < officeScanBatch {
				return nil
			}
			after = us[len(us)-1].Username
		}
	})
	slices.SortStableFunc(out, func(x, y OfficeMember) int {
		if x.Access != y.Access {
			if x.Access == "pending" {
				return -1
			}
			return 1
		}
		return 0
	})
	return out, err
}
