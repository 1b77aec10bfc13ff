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
	if f.Get("new_password") != f.Get("confirm_password") {
		err = channel.Invalid("confirm_password", "the two new passwords are not the same")
	} else {
		err = h.svc.ChangePassword(r.Context(), v.actor, f.Get("current_password"), f.Get("new_password"))
	}
	if err == nil {
		// The change ended every session, this one too: sign in afresh.
		token, _, serr := h.svc.SignIn(r.Context(), v.actor.Username(), f.Get("new_password"))
		if serr != nil {
			clearCookie(w, sessionCookie)
			redirect(w, r, "/sign-in", flashPassword)
			return
		}
		setSession(w, token)
		redirect(w, r, "/account", flashPassword)
		return
	}
	fe, ok := asFormError(v, err)
	if !ok {
		h.fail(w, r, v, err)
		return
	}
	h.showAccount(w, r, v, formStatus(err), fe)
}
