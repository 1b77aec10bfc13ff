package api_test

import (
	"net/http"
	"testing"

	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/store"
)

// TestKeyConfirmations: a principal put on the distribution awaits the
// office's confirmation of their keys. After an administrator resets the
// principal's password and someone starts afresh with it, the office sees
// the account awaiting confirmation, an administrator may neither see nor
// confirm, and the office's confirmation puts the principal back on the
// distribution.
func TestKeyConfirmations(t *testing.T) {
	bothStores(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		e.user("office", false, "office")
		e.user("p1", false, "principal")
		e.member("alice")
		d := decode[service.Distribution](t, e.must(http.StatusOK, "admin", "PUT", "/api/v1/admin/distribution", service.Distribution{Usernames: []string{"p1"}}))
		if len(d.AwaitingConfirmation) != 1 || d.AwaitingConfirmation[0] != "p1" {
			t.Errorf("the distribution set: %+v, want p1 awaiting the office", d)
		}
		first := decode[service.User](t, e.must(http.StatusOK, "p1", "GET", "/api/v1/me", nil))
		if first.KeysAwaitingConfirmation || !first.DistributionAwaitsConfirmation {
			t.Errorf("p1's first keys: %+v, want free to act, the distribution waiting for the office", first)
		}
		e.must(http.StatusNoContent, "admin", "POST", "/api/v1/users/p1/password-reset", map[string]string{"password": "temporary-password-1"})
		r := e.must(http.StatusCreated, "", "POST", "/api/v1/sessions", map[string]string{"username": "p1", "password": "temporary-password-1"})
		e.mu.Lock()
		e.tokens["p1"] = decode[map[string]string](t, r)["token"]
		e.mu.Unlock()
		e.must(http.StatusOK, "p1", "POST", "/api/v1/me/keys", map[string]string{"current_password": "temporary-password-1", "new_password": "a phrase of someone's own"})
		r = e.must(http.StatusCreated, "", "POST", "/api/v1/sessions", map[string]string{"username": "p1", "password": "a phrase of someone's own"})
		e.mu.Lock()
		e.tokens["p1"] = decode[map[string]string](t, r)["token"]
		e.mu.Unlock()

		type list struct {
			Items []service.KeysAwaiting `json:"items"`
		}
		got := decode[list](t, e.must(http.StatusOK, "office", "GET", "/api/v1/office/key-confirmations", nil))
		if len(got.Items) != 1 || got.Items[0].Username != "p1" || got.Items[0].DisplayName != "Display p1" || !got.Items[0].Principal {
			t.Fatalf("awaiting confirmation: %+v, want p1", got.Items)
		}
		problemOf(t, e.must(http.StatusForbidden, "admin", "GET", "/api/v1/office/key-confirmations", nil))
		me := decode[service.User](t, e.must(http.StatusOK, "p1", "GET", "/api/v1/me", nil))
		if len(me.KeysFingerprint) != 24 || !me.KeysAwaitingConfirmation {
			t.Fatalf("p1's fingerprint %q, awaiting confirmation %v", me.KeysFingerprint, me.KeysAwaitingConfirmation)
		}
		fp := service.KeyConfirmation{Fingerprint: me.KeysFingerprint, Principal: true}
		// The office confirms p1 as the principal its list showed.
		problemOf(t, e.must(http.StatusUnprocessableEntity, "office", "POST", "/api/v1/office/key-confirmations/p1", map[string]string{"fingerprint": me.KeysFingerprint}))
		problemOf(t, e.must(http.StatusForbidden, "admin", "POST", "/api/v1/office/key-confirmations/p1", fp))
		problemOf(t, e.must(http.StatusForbidden, "alice", "POST", "/api/v1/office/key-confirmations/p1", fp))
		problemOf(t, e.must(http.StatusNotFound, "office", "POST", "/api/v1/office/key-confirmations/nobody", fp))
		problemOf(t, e.must(http.StatusUnprocessableEntity, "office", "POST", "/api/v1/office/key-confirmations/alice", fp))
		problemOf(t, e.must(http.StatusUnprocessableEntity, "office", "POST", "/api/v1/office/key-confirmations/p1", service.KeyConfirmation{Fingerprint: "0000 0000 0000 0000 0000", Principal: true}))
		problemOf(t, e.must(http.StatusBadRequest, "office", "POST", "/api/v1/office/key-confirmations/p1", "{not json"))

		held := e.create("alice", "held", "b")
		e.sign("alice", held.ID, 1)
		e.submit("alice", held.ID, 1)
		problemOf(t, e.must(http.StatusNotFound, "p1", "GET", "/api/v1/memos/"+held.ID, nil))
		type withheld struct {
			Items []service.WithheldReader `json:"items"`
		}
		if got := decode[withheld](t, e.must(http.StatusOK, "office", "GET", "/api/v1/memos/"+held.ID+"/withheld", nil)); len(got.Items) != 1 || got.Items[0].Username != "p1" {
			t.Errorf("withheld from the memo: %+v, want p1", got.Items)
		}
		problemOf(t, e.must(http.StatusForbidden, "alice", "GET", "/api/v1/memos/"+held.ID+"/withheld", nil))

		e.must(http.StatusNoContent, "office", "POST", "/api/v1/office/key-confirmations/p1", fp)
		if got := decode[list](t, e.must(http.StatusOK, "office", "GET", "/api/v1/office/key-confirmations", nil)); len(got.Items) != 0 {
			t.Errorf("awaiting after the confirmation: %+v", got.Items)
		}
		if me := decode[service.User](t, e.must(http.StatusOK, "p1", "GET", "/api/v1/me", nil)); me.KeysAwaitingConfirmation {
			t.Error("p1's account still says the keys await the office")
		}
		if got := decode[withheld](t, e.must(http.StatusOK, "office", "GET", "/api/v1/memos/"+held.ID+"/withheld", nil)); len(got.Items) != 0 {
			t.Errorf("withheld after the confirmation: %+v", got.Items)
		}
		m := e.create("alice", "after", "b")
		e.sign("alice", m.ID, 1)
		e.submit("alice", m.ID, 1)
		if got := decode[service.Memo](t, e.must(http.StatusOK, "p1", "GET", "/api/v1/memos/"+m.ID, nil)); got.Title != "after" {
			t.Errorf("p1 reads %q", got.Title)
		}
	})
}
