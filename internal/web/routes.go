package web

import (
	"net/http"

	"github.com/dissent-channel/dissent/internal/channel"
)

// routes registers every page. GET pages read; every POST goes through
// form, which refuses cross-origin requests.
func (h *handler) routes(mux *http.ServeMux) {
	h.mux = mux
	get := func(pattern string, fn handlerFunc) { mux.Handle("GET "+pattern, h.authed(fn)) }
	post := func(pattern string, fn handlerFunc) { mux.Handle("POST "+pattern, h.form(h.authed(fn))) }

	mux.Handle("GET /static/", http.HandlerFunc(h.serveStatic))
	mux.Handle("GET /static/markings.css", http.HandlerFunc(h.serveMarkings))
	mux.Handle("/", h.public(h.notFound))
	mux.Handle("GET /{$}", h.authed(h.home))
	mux.Handle("GET /sign-in", h.public(h.signInPage))
	mux.Handle("POST /sign-in", h.publicForm(h.public(h.signIn)))
	mux.Handle("GET /help", h.public(h.help))
	mux.Handle("POST /language", h.publicForm(h.public(h.setLanguage)))
	post("/sign-out", h.signOut)
	get("/account", h.account)
	post("/account/password", h.changePassword)
	get("/account/keys", h.keysPage)
	post("/account/keys", h.newKeys)
	get("/notifications", h.notifications)
	post("/notifications/read", h.markNotificationsRead)

	// Members: their own memos.
	get("/memos", h.myMemos)
	get("/memos/new", h.compose)
	post("/memos/new", h.create)
	get("/memos/{id}", h.memo)
	get("/memos/{id}/edit", h.editPage)
	post("/memos/{id}/edit", h.edit)
	get("/memos/{id}/history", h.history)
	get("/memos/{id}/signers", h.invitePage)
	post("/memos/{id}/signers", h.invite)
	get("/memos/{id}/sign", h.signPage)
	post("/memos/{id}/sign", h.sign)
	post("/memos/{id}/unsign", h.unsign)
	get("/memos/{id}/submit", h.submitPage)
	post("/memos/{id}/submit", h.submit)
	get("/memos/{id}/receipt", h.receipt)
	get("/memos/{id}/receipt.json", h.receiptJSON)
	get("/memos/{id}/proof/{index}", h.proofJSON)
	get("/memos/{id}/bundle.json", h.bundleJSON)
	get("/memos/{id}/access", h.accessLog)
	get("/memos/{id}/withdraw", h.reasonPage(reasonWithdraw))
	post("/memos/{id}/withdraw", h.withdraw)
	get("/memos/{id}/appeal", h.reasonPage(reasonAppeal))
	post("/memos/{id}/publication/consent", h.agreeToPublish)
	post("/memos/{id}/publish", h.publish)
	get("/published", h.published)
	get("/published/{id}", h.publication)
	post("/memos/{id}/appeal", h.appeal)

	// The channel office.
	get("/office", h.inbox)
	get("/office/members", h.officeMembers)
	post("/office/members/grant", h.grantOffice)
	post("/office/members/confirm-keys", h.confirmKeys)
	post("/memos/{id}/acknowledge", h.officeStep(flashAcknowledged, h.svc.Acknowledge))
	post("/memos/{id}/close", h.officeStep(flashClosed, h.svc.Close))
	get("/memos/{id}/return", h.reasonPage(reasonReturn))
	post("/memos/{id}/return", h.returnMemo)
	get("/memos/{id}/readers", h.readersPage)
	post("/memos/{id}/readers", h.addReaders)
	post("/memos/{id}/revoke", h.revokeReader)
	get("/memos/{id}/meeting", h.meetingPage)
	post("/memos/{id}/meeting", h.recordMeeting)
	get("/memos/{id}/reply", h.replyPage)
	post("/memos/{id}/reply", h.reply)
	post("/memos/{id}/decision", h.decide)

	// Principals.
	get("/reading-room", h.readingRoom)
	post("/memos/{id}/comment", h.comment)
	post("/memos/{id}/messages", h.message)

	// Auditors; figures for auditors, the office and administrators.
	get("/audit", h.audit)
	post("/audit/check", h.checkLedger)
	get("/audit/access", h.auditAccess)
	get("/figures", h.figures)

	// Administrators: accounts and configuration, never a memo.
	get("/admin/users", h.users)
	get("/admin/users/new", h.newUserPage)
	post("/admin/users/new", h.createUser)
	get("/admin/users/{username}", h.userPage)
	post("/admin/users/{username}", h.updateUser)
	post("/admin/users/{username}/password", h.resetPassword)
	get("/admin/distribution", h.distributionPage)
	post("/admin/distribution", h.setDistribution)
	get("/admin/policy", h.policy)
}

// serveStatic serves the embedded CSS and script. Addresses carry the
// files' version, so browsers may keep them.
func (h *handler) serveStatic(w http.ResponseWriter, r *http.Request) {
	secure(w)
	if r.URL.Query().Get("v") == h.version {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	h.static.ServeHTTP(w, r)
}

func (h *handler) serveMarkings(w http.ResponseWriter, r *http.Request) {
	secure(w)
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	_, _ = w.Write(h.markingsCSS)
}

// home sends each user to the page of their main role, or, while their
// keys are locked and the memo pages of their role cannot open, to the
// page that says why.
func (h *handler) home(w http.ResponseWriter, r *http.Request, v *visit) {
	if v.actor.KeysPending() {
		http.Redirect(w, r, "/account", http.StatusSeeOther)
		return
	}
	if v.actor.KeysLocked() && (v.actor.Has(channel.RoleMember) || v.actor.Has(channel.RoleOffice) || v.actor.Has(channel.RolePrincipal)) {
		http.Redirect(w, r, "/account/keys", http.StatusSeeOther)
		return
	}
	target := "/account"
	// An office member not let in yet (or before the office is founded)
	// starts at their account page, which says what they wait for,
	// rather than at an inbox that refuses them.
	officeWaits := false
	if v.actor.Has(channel.RoleOffice) {
		if me, err := h.svc.Me(r.Context(), v.actor); err == nil && me.OfficeAccess != "" && me.OfficeAccess != "granted" {
			officeWaits = true
		}
	}
	for _, rt := range []struct {
		role channel.Role
		path string
	}{{channel.RoleMember, "/memos"}, {channel.RoleOffice, "/office"}, {channel.RolePrincipal, "/reading-room"}, {channel.RoleAuditor, "/audit"}, {channel.RoleAdmin, "/admin/users"}} {
		if rt.role == channel.RoleOffice && officeWaits {
			continue
		}
		if v.actor.Has(rt.role) {
			target = rt.path
			break
		}
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

func (h *handler) setLanguage(w http.ResponseWriter, r *http.Request, v *visit) {
	code := r.PostForm.Get("lang")
	for _, l := range langChoices {
		if l.Code == code {
			http.SetCookie(w, &http.Cookie{Name: langCookie, Value: code, Path: "/", MaxAge: 365 * 24 * 3600, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		}
	}
	next := r.PostForm.Get("next")
	if !localPath(next) {
		next = "/"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (h *handler) help(w http.ResponseWriter, r *http.Request, v *visit) {
	h.render(w, r, v, http.StatusOK, pageHelp, &view{Title: v.T("Help")})
}
