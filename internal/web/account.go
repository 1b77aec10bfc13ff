package web

import (
	"net/http"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/service"
)

type accountData struct {
	Me    *service.User
	Error *formError
}

func (h *handler) account(w http.ResponseWriter, r *http.Request, v *visit) {
	h.showAccount(w, r, v, http.StatusOK, nil)
}

func (h *handler) showAccount(w http.ResponseWriter, r *http.Request, v *visit, status int, fe *formError) {
	me, err := h.svc.Me(r.Context(), v.actor)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	h.render(w, r, v, status, pageAccount, &view{Title: v.T("Account"), Data: accountData{Me: me, Error: fe}})
}

func (h *handler) changePassword(w http.ResponseWriter, r *http.Request, v *visit) {
	f := r.PostForm
	var err error
	var device string
	if f.Get("new_password") != f.Get("confirm_password") {
		err = channel.Invalid("confirm_password", "the two new passwords are not the same")
	} else {
		device, err = h.svc.ChangePasswordFrom(r.Context(), v.actor, f.Get("current_password"), f.Get("new_password"))
	}
	if err == nil {
		h.signInAgain(w, r, v, f.Get("new_password"), device, "/account", flashPassword)
		return
	}
	fe, ok := asFormError(v, err)
	if !ok {
		h.fail(w, r, v, err)
		return
	}
	h.showAccount(w, r, v, formStatus(err), fe)
}

// signInAgain opens a new session after a step that ended every session of
// the visitor's, this one too, and with them the browser's device token:
// device is the one the step gave in its place. It goes to target with a
// notice; if signing in fails, to the sign-in page with it.
func (h *handler) signInAgain(w http.ResponseWriter, r *http.Request, v *visit, password, device, target string, note flash) {
	token, err := h.signInWith(w, r, v.actor.Username(), password, device)
	if err != nil {
		// The step voided the browser's token all the same: keep the one
		// it gave, for the sign-in the visitor is sent to.
		setDevice(w, device)
		clearCookie(w, sessionCookie)
		redirect(w, r, "/sign-in", note)
		return
	}
	setSession(w, token)
	redirect(w, r, target, note)
}

// keysData is the page about one's keys: after an administrator's
// password reset they are locked, and this is where one learns what that
// means and may start afresh.
type keysData struct {
	Locked  bool
	Pending bool // not made yet: the user must choose their own password
	Error   *formError
}

func (h *handler) keysPage(w http.ResponseWriter, r *http.Request, v *visit) {
	h.render(w, r, v, http.StatusOK, pageKeys, &view{Title: v.T("Your keys"), Data: keysData{Locked: v.actor.KeysLocked(), Pending: v.actor.KeysPending()}})
}

// newKeys starts afresh with new keys. Memos sealed for the old keys stay
// sealed from the visitor, so the form asks them to say they understand.
func (h *handler) newKeys(w http.ResponseWriter, r *http.Request, v *visit) {
	f := r.PostForm
	var err error
	var device string
	switch {
	case f.Get("understood") == "":
		err = channel.Invalid("understood", "tick the box to confirm that you lose access to your earlier memos")
	case f.Get("new_password") != f.Get("confirm_password"):
		err = channel.Invalid("confirm_password", "the two new passwords are not the same")
	default:
		device, err = h.svc.NewKeysFrom(r.Context(), v.actor, f.Get("current_password"), f.Get("new_password"))
	}
	if err == nil {
		// New keys end every session, so that none goes on with the old ones.
		h.signInAgain(w, r, v, f.Get("new_password"), device, "/account", flashNewKeys)
		return
	}
	fe, ok := asFormError(v, err)
	if !ok {
		h.fail(w, r, v, err)
		return
	}
	h.render(w, r, v, formStatus(err), pageKeys, &view{Title: v.T("Your keys"), Data: keysData{Locked: v.actor.KeysLocked(), Pending: v.actor.KeysPending(), Error: fe}})
}
