package service_test

// Each test here proves a finding of the review of the service layer's
// access rules and audit trail (helper-41), fixed since; its comment says
// what went wrong before.

import (
	"strings"
	"testing"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store/sqlstore"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// asAdminFromBefore makes member a an administrator too, in the database,
// as releases before the two roles were refused together allowed, and
// signs them in again.
func asAdminFromBefore(t *testing.T, d *servicetest.Deployment, a *service.Actor) *service.Actor {
	t.Helper()
	db := d.Store.(*sqlstore.DB)
	if _, err := db.Raw().ExecContext(d.Ctx, db.Rebind(`UPDATE users SET roles = 'member admin' WHERE id = ?`), a.User.ID); err != nil {
		t.Fatal(err)
	}
	return d.SignIn(a.User.Username)
}

// lastLeaf is the newest ledger leaf with action, failing if none.
func lastLeaf(t *testing.T, d *servicetest.Deployment, action string) ledger.Leaf {
	t.Helper()
	leaves, _ := allLeaves(t, d.Store)
	for i := len(leaves) - 1; i >= 0; i-- {
		if leaves[i].Action == action {
			return leaves[i]
		}
	}
	t.Fatalf("no %s in the ledger", action)
	return ledger.Leaf{}
}

// TestAdministratorStepsAreNamed: an administrator who also holds
// the member role (ValidateRoles allows it: an administrator is an
// employee too) changes the standing distribution, resets a password and
// changes an account. Those events are recorded with no role given, so
// recordLeaf files them as a *member's*, under a commitment only the
// administrator can open: the ledger no longer says that an administrator,
// nor which one, put a principal on the distribution or reset a password
// (the steps of an account takeover, THREAT-MODEL "Known gaps").
func TestAdministratorStepsAreNamed(t *testing.T) {
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t))
	adm := asAdminFromBefore(t, d, d.Member("admin2"))
	victim := d.Member("victim")

	if _, err := d.Svc.SetDistribution(d.Ctx, adm, service.Distribution{Usernames: []string{"p1"}}); err != nil {
		t.Fatal(err)
	}
	if err := d.Svc.ResetPassword(d.Ctx, adm, victim.User.Username, "temporary-password-1"); err != nil {
		t.Fatal(err)
	}
	dn := "Renamed"
	if _, err := d.Svc.UpdateUser(d.Ctx, adm, victim.User.Username, service.UserUpdate{DisplayName: &dn}); err != nil {
		t.Fatal(err)
	}
	for _, action := range []string{"config.distribution", "user.password_reset", "user.update"} {
		l := lastLeaf(t, d, action)
		if l.Actor != adm.User.ID || l.Role != "admin" {
			t.Errorf("%s by administrator admin2 is recorded as role %q, actor %q (commitment %q): want role admin, actor %s",
				action, l.Role, l.Actor, l.ActorCommit, adm.User.ID)
		}
	}
}

// TestOfficeLooksAreNamed: a member of the channel office who is
// also a member (an employee who may file) looks at a memo's access log
// and takes the leaf of one of its entries. Both are accesses to the memo,
// recorded so that its authors see who looked (eventsShown); but they are
// recorded with no role, so they appear as an anonymous "member" in the
// authors' history instead of the office member by name, unlike the same
// member's reads, exports and revision history (memberEvent, role office).
func TestOfficeLooksAreNamed(t *testing.T) {
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t))
	om := letIn(t, d, "om", true, "office", "member")
	author := d.Member("author")
	m, rc := d.Submitted(author, "looked at by the office")

	if _, err := d.Svc.AccessLog(d.Ctx, om, m.ID, "", 50); err != nil {
		t.Fatal(err)
	}
	if p, err := d.Svc.InclusionProof(d.Ctx, om, rc.LedgerIndex, 0); err != nil || p.Leaf == "" {
		t.Fatalf("the office member's proof of the submission: %+v, %v", p, err)
	}
	got, err := d.Svc.GetMemo(d.Ctx, author, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	// An auditor who is a member too: the same.
	aud := d.Create("aud", true, "auditor", "member")
	if _, err := d.Svc.AccessLog(d.Ctx, aud, m.ID, "", 50); err != nil {
		t.Fatal(err)
	}
	if l := lastLeaf(t, d, "memo.access_log"); l.Actor != aud.User.ID || l.Role != "auditor" {
		t.Errorf("the auditor's look at the access log is recorded as role %q, actor %q; want auditor, %s", l.Role, l.Actor, aud.User.ID)
	}
	for _, action := range []string{"memo.access_log", "memo.proof"} {
		found := false
		for _, ev := range got.Events {
			if ev.Action != action {
				continue
			}
			found = true
			if ev.Actor != "om" || ev.Role != "office" {
				t.Errorf("the author's history shows %s by %q as %q; want om, office", action, ev.Actor, ev.Role)
			}
		}
		if !found {
			t.Errorf("no %s in the author's history: %+v", action, got.Events)
		}
	}
}

// TestInvitationsDoNotProbeAccounts: the directory shows any member
// usernames and display names only (API.md); roles, eligibility, whether
// an account is disabled, and whether an administrator reset its password
// are the administrator's to see. A member asking colleagues to co-draft
// learns all of them from the refusal's wording, one name at a time, and
// the refused request leaves nothing in the ledger.
func TestInvitationsDoNotProbeAccounts(t *testing.T) {
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t))
	prober := d.Member("prober")
	d.Create("contractor", false, "member") // ineligible under 2 FAM 070
	d.Member("gone")
	yes := true
	if _, err := d.Svc.UpdateUser(d.Ctx, d.Admin, "gone", service.UserUpdate{Disabled: &yes}); err != nil {
		t.Fatal(err)
	}
	d.Member("reset")
	if err := d.Svc.ResetPassword(d.Ctx, d.Admin, "reset", "temporary-password-1"); err != nil {
		t.Fatal(err)
	}
	before, _ := allLeaves(t, d.Store)
	answers := map[string]string{}
	for _, name := range []string{"p1", "contractor", "gone", "reset"} {
		_, err := d.Svc.CreateMemo(d.Ctx, prober, service.MemoInput{Title: "t", Body: "b", Marking: "UNCLASSIFIED", Codrafters: []string{name}})
		if err == nil {
			t.Fatalf("%s accepted as a co-drafter", name)
		}
		msg := strings.ReplaceAll(channel.ErrorMessage(err), `"`+name+`"`, "NAME")
		answers[name] = msg
	}
	after, _ := allLeaves(t, d.Store)
	distinct := map[string][]string{}
	for name, msg := range answers {
		distinct[msg] = append(distinct[msg], name)
	}
	if len(distinct) > 1 {
		t.Errorf("a member tells accounts apart by the refusal of an invitation (%d ledger entries added by the probes):", len(after)-len(before))
		for msg, names := range distinct {
			t.Errorf("  %v: %s", names, msg)
		}
	}
}

// TestAdministratorIsNeverAnAuthorByInvitation: administrators must
// never read a memo (PRODUCT.md); the service refuses an administrator as
// a reader (AddReaders), on the distribution (SetDistribution) and in the
// office (GrantOffice). An administrator may also hold the member role,
// and the directory shows a drafter only names, not roles: a drafter who
// asks that colleague to co-sign (or co-draft) hands the administrator the
// memo's key, its text and the names of its authors.
func TestAdministratorIsNeverAnAuthorByInvitation(t *testing.T) {
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t))
	drafter := d.Member("drafter")
	adm := asAdminFromBefore(t, d, d.Member("jsmith"))
	m, err := d.Svc.CreateMemo(d.Ctx, drafter, service.MemoInput{Title: "secret dissent", Body: "the sensitive text", Marking: "UNCLASSIFIED"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Svc.InviteSigners(d.Ctx, drafter, m.ID, []string{"jsmith"})
	if err != nil {
		return // refused: what the rule asks
	}
	got, err := d.Svc.GetMemo(d.Ctx, adm, m.ID)
	if err == nil {
		t.Errorf("an administrator was invited to co-sign and reads the memo: %q, authors %+v", got.Body, got.Authors)
	}
	if _, err := d.Svc.CreateMemo(d.Ctx, drafter, service.MemoInput{Title: "t", Body: "b", Marking: "UNCLASSIFIED", Codrafters: []string{"jsmith"}}); err == nil {
		t.Errorf("an administrator was accepted as a co-drafter")
	}
}

// TestAdministratorPrincipalFromBeforeReadsNothing: "an account
// that holds them [administrator and principal] from before does not open
// the office's key, found the office, or get a memo" (THREAT-MODEL). The
// office's way in refuses such an account (unwrapOffice), the reader's way
// in (openRecord) asks for the principal role only, so the account reads,
// comments on and exports every memo wrapped to it.
func TestAdministratorPrincipalFromBeforeReadsNothing(t *testing.T) {
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t))
	author := d.Member("author")
	m := submitted(t, d, author, "read by p1")
	// Roles as a release before the roles were refused together left them.
	db := d.Store.(*sqlstore.DB)
	if _, err := db.Raw().ExecContext(d.Ctx, `UPDATE users SET roles = 'principal admin' WHERE username = 'p1'`); err != nil {
		t.Fatal(err)
	}
	p1 := d.SignIn("p1")
	if !p1.Has(channel.RoleAdmin) || !p1.Has(channel.RolePrincipal) {
		t.Fatal("set-up: p1 is not both")
	}
	if got, err := d.Svc.GetMemo(d.Ctx, p1, m.ID); err == nil {
		t.Errorf("an account that is an administrator and a principal reads the memo: %q", got.Body)
	}
}
