package service_test

import (
	"testing"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

func TestOfficeMembers(t *testing.T) {
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t))
	d.Create("newcomer", false, "office")
	d.Create("p9", false, "principal")

	got, err := d.Svc.OfficeMembers(d.Ctx, d.Office)
	if err != nil {
		t.Fatal(err)
	}
	want := []service.OfficeMember{
		{Username: "newcomer", DisplayName: "Display newcomer", Access: "pending", Grantable: true},
		{Username: "office", DisplayName: "Display office", Access: "granted"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("member %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if err := d.Svc.GrantOffice(d.Ctx, d.Office, "newcomer"); err != nil {
		t.Fatal(err)
	}
	got, err = d.Svc.OfficeMembers(d.Ctx, d.Office)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range got {
		if m.Access != "granted" {
			t.Errorf("%s is still %s after the grant", m.Username, m.Access)
		}
	}

	// Only someone holding the office key may ask: not a pending member,
	// not an administrator, not a principal.
	pending := d.Create("another", false, "office")
	for name, a := range map[string]*service.Actor{"pending member": pending, "admin": d.Admin, "principal": d.Principals[0]} {
		if _, err := d.Svc.OfficeMembers(d.Ctx, a); channel.ErrorCode(err) != channel.EFORBIDDEN {
			t.Errorf("%s: %v, want forbidden", name, err)
		}
	}
}
