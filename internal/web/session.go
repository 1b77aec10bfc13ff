package web

import (
	"github.com/dissent-channel/dissent/internal/clientip"
	"net/http"
	"strconv"
	"strings"

	"github.com/dissent-channel/dissent/internal/channel"
)

// sessionCookie carries the session token. The __Host- prefix makes the
// browser insist on Secure, Path=/ and no Domain, so no other host can set
// or read it; HttpOnly keeps it from scripts and SameSite=Strict from
// requests that start on other sites. It has no expiry: it ends with the
// browser, and the service's idle and absolute time-outs end it sooner.
const sessionCookie = "__Host-dissent"

func setSession(w http.ResponseWriter, token string) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
}

// deviceCookie keeps the device token of the account this browser last
// signed in to (service.SignInFrom): its failed sign-ins are counted on
// their own, so that someone posting wrong passwords for that account
// elsewhere does not lock this browser out. It outlives sessions.
const deviceCookie = "__Host-dissent-device"

// signInFrom signs username in from this browser, with its device token.
func (h *handler) signInFrom(w http.ResponseWriter, r *http.Request, username, password string) (string, error) {
	return h.signInWith(w, r, username, password, browserDevice(r))
}

// browserDevice is the device token the browser keeps, or "".
func browserDevice(r *http.Request) string {
	if c, err := r.Cookie(deviceCookie); err == nil {
		return c.Value
	}
	return ""
}

// signInWith signs username in from this browser, with device as its
// device token, and keeps the token the sign-in gives in the browser.
func (h *handler) signInWith(w http.ResponseWriter, r *http.Request, username, password, device string) (string, error) {
	token, _, keep, err := h.svc.SignInFrom(r.Context(), username, password, device, clientip.From(r.Context()))
	if err != nil {
		return "", err
	}
	if keep != browserDevice(r) {
		setDevice(w, keep)
	}
	return token, nil
}

// setDevice keeps device as the browser's device token.
func setDevice(w http.ResponseWriter, device string) {
	http.SetCookie(w, &http.Cookie{Name: deviceCookie, Value: device, Path: "/", MaxAge: 400 * 24 * 3600,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
}

func clearCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
}

// flash is a notice for the page after a redirect. Only these fixed keys
// travel, never text from a user or a memo.
type flash string

const (
	flashSaved         flash = "saved"
	flashCreated       flash = "created"
	flashInvited       flash = "invited"
	flashSigned        flash = "signed"
	flashUnsigned      flash = "unsigned"
	flashSubmitted     flash = "submitted"
	flashWithdrawn     flash = "withdrawn"
	flashAppealed      flash = "appealed"
	flashAgreed        flash = "agreed"
	flashDecided       flash = "decided"
	flashPublished     flash = "published"
	flashAcknowledged  flash = "acknowledged"
	flashReturned      flash = "returned"
	flashReaders       flash = "readers"
	flashMeeting       flash = "meeting"
	flashReplied       flash = "replied"
	flashClosed        flash = "closed"
	flashCommented     flash = "commented"
	flashMessaged      flash = "messaged"
	flashGranted       flash = "granted"
	flashPassword      flash = "password"
	flashUser          flash = "user"
	flashDistribution  flash = "distribution"
	flashReset         flash = "reset"
	flashChecked       flash = "checked"
	flashSignedOut     flash = "signedout"
	flashNoticesRead   flash = "noticesread"
	flashRevoked       flash = "revoked"
	flashNewKeys       flash = "newkeys"
	flashKeysConfirmed flash = "keysconfirmed"
	flashUnwithheld    flash = "unwithheld"
)

// flashText is what each notice says (a catalog key).
var flashText = map[flash]string{
	flashSaved:         "Your changes are saved as a new revision.",
	flashCreated:       "Your draft is saved. Only you and your co-drafters can see it.",
	flashInvited:       "The signers are invited. They will see the memo in their list.",
	flashSigned:        "You signed this revision.",
	flashUnsigned:      "Your signature is withdrawn.",
	flashSubmitted:     "The memo is submitted. Keep the receipt below.",
	flashWithdrawn:     "The memo is withdrawn.",
	flashAppealed:      "Your appeal is with the channel office.",
	flashAgreed:        "You agreed to publish this memo once its case is closed.",
	flashDecided:       "The decision on appeal is sent.",
	flashPublished:     "The case is published.",
	flashAcknowledged:  "The memo is acknowledged. The authors can see this.",
	flashReturned:      "The memo is returned to its authors with your reason.",
	flashReaders:       "The readers are added, with your reason on record.",
	flashMeeting:       "The meeting is recorded.",
	flashReplied:       "The reply is sent. The authors can read it now.",
	flashClosed:        "The case is closed.",
	flashCommented:     "Your comment is sent to the office.",
	flashMessaged:      "Your message is sent.",
	flashGranted:       "Office access is granted.",
	flashPassword:      "Your password is changed. Other sessions are signed out.",
	flashUser:          "The account is saved.",
	flashDistribution:  "The standing distribution is saved. It applies to memos submitted from now on.",
	flashReset:         "The password is reset. The user's keys stay locked until recovery.",
	flashChecked:       "The self-check is done.",
	flashSignedOut:     "You are signed out.",
	flashNoticesRead:   "Your notices are marked as read.",
	flashRevoked:       "The reader is removed from the distribution, with your reason on record. What is written from now on is sealed with a new key.",
	flashUnwithheld:    "They will not be given this memo when their keys are confirmed. Your reason is on record.",
	flashNewKeys:       "You have new keys, and your earlier memos stay sealed. You can draft now; once a member of the channel office has confirmed your new keys with you, you can sign and submit again, and memos and invitations reach you again.",
	flashKeysConfirmed: "The keys are confirmed: memos and invitations reach them again, and the memos the distribution withheld from them meanwhile are shared with them now.",
}

const flashCookie = "__Host-dissent-flash"

func setFlash(w http.ResponseWriter, f flash) {
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: string(f), Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
}

// takeFlash reads and clears the notice, returning its catalog key.
func takeFlash(w http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return ""
	}
	clearCookie(w, flashCookie)
	return flashText[flash(c.Value)]
}

// signIn is the sign-in form and its answer.
func (h *handler) signInPage(w http.ResponseWriter, r *http.Request, v *visit) {
	if v.actor != nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	next := r.URL.Query().Get("next")
	if !localPath(next) {
		next = ""
	}
	d := signInData{Next: next, Ended: r.URL.Query().Get("ended") == "1"}
	if f := takeFlash(w, r); f != "" {
		v.flash = f
	}
	h.render(w, r, v, http.StatusOK, pageSignIn, &view{Title: v.T("Sign in"), Data: d})
}

type signInData struct {
	Next, Username string
	Ended          bool
	Error          *formError
	// KeptTitle and KeptBody are text the visitor sent after their session
	// ended, shown back so that they can copy it.
	KeptTitle, KeptBody string
}

func (h *handler) signIn(w http.ResponseWriter, r *http.Request, v *visit) {
	username := strings.TrimSpace(r.PostForm.Get("username"))
	next := r.PostForm.Get("next")
	if !localPath(next) {
		next = "/"
	}
	token, err := h.signInFrom(w, r, username, r.PostForm.Get("password"))
	if err != nil {
		fe, ok := asFormError(v, err)
		if !ok {
			if code := formStatus(err); code != http.StatusUnauthorized {
				h.fail(w, r, v, err)
				return
			}
			fe = &formError{Heading: v.T("There is a problem"), Text: v.T("The username or password is wrong."), Fields: map[string]string{}}
		}
		if channel.ValidateUsername("username", username) != nil {
			username = "" // no name: nothing to write back
		}
		if n := channel.RetryAfterSeconds(err); n > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(n))
		}
		h.render(w, r, v, formStatus(err), pageSignIn, &view{Title: v.T("Sign in"), Data: signInData{Next: next, Username: username, Error: fe}})
		return
	}
	setSession(w, token)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (h *handler) signOut(w http.ResponseWriter, r *http.Request, v *visit) {
	if err := h.svc.SignOut(r.Context(), v.actor); err != nil {
		h.log.Warn("web: sign out", "err", err)
	}
	clearCookie(w, sessionCookie)
	redirect(w, r, "/sign-in", flashSignedOut)
}
