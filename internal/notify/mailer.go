package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Config is how to reach the mail server.
type Config struct {
	Host     string
	Port     int
	Username string // empty: no authentication
	Password string
	From     string // the envelope and header sender
	// TLS is "starttls" (the default: plain connection upgraded before
	// anything is said, refused if the server does not offer it), "tls"
	// (TLS from the first byte, usually port 465) or "none" (tests only).
	TLS string
	// TLSConfig overrides the TLS settings (tests use it to trust their
	// own certificate); nil verifies the server against the system's
	// roots under Host.
	TLSConfig *tls.Config
	// Timeout bounds one message's delivery, connection included
	// (DefaultTimeout).
	Timeout time.Duration
}

// DefaultTimeout bounds one message's delivery when Config sets no Timeout.
const DefaultTimeout = 30 * time.Second

// Mailer sends messages over SMTP, one connection per message.
type Mailer struct {
	cfg Config
}

// NewMailer checks cfg and returns a mailer.
func NewMailer(cfg Config) (*Mailer, error) {
	if cfg.TLS == "" {
		cfg.TLS = "starttls"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	switch {
	case cfg.Host == "":
		return nil, errors.New("notify: no mail server host")
	case cfg.Port < 1 || cfg.Port > 65535:
		return nil, fmt.Errorf("notify: port %d", cfg.Port)
	case cfg.From == "":
		return nil, errors.New("notify: no sender address")
	case cfg.TLS != "starttls" && cfg.TLS != "tls" && cfg.TLS != "none":
		return nil, fmt.Errorf("notify: tls %q: want starttls, tls or none", cfg.TLS)
	case cfg.TLS == "none" && cfg.Username != "" && !isLoopback(cfg.Host):
		return nil, errors.New("notify: refusing to send the SMTP password unencrypted to another host: use tls = \"starttls\"")
	}
	return &Mailer{cfg: cfg}, nil
}

// Send delivers m to the mail server. It gives up when ctx ends or the
// timeout passes; the caller keeps the message and tries again later.
func (mm *Mailer) Send(ctx context.Context, m *Message) error {
	data, err := m.Bytes(mm.cfg.From)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, mm.cfg.Timeout)
	defer cancel()
	addr := net.JoinHostPort(mm.cfg.Host, strconv.Itoa(mm.cfg.Port))
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("notify: connect to %s: %w", addr, err)
	}
	// The SMTP client has no context: bound it by the deadline, and cut
	// the connection if ctx ends first.
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()

	tlsCfg := mm.cfg.TLSConfig
	if tlsCfg == nil {
		tlsCfg = &tls.Config{ServerName: mm.cfg.Host, MinVersion: tls.VersionTLS12}
	}
	var c *smtp.Client
	switch mm.cfg.TLS {
	case "tls":
		c = smtp.NewClient(tls.Client(conn, tlsCfg))
	case "starttls":
		// NewClientStartTLS fails if the server does not offer STARTTLS:
		// never fall back to sending credentials in the clear.
		if c, err = smtp.NewClientStartTLS(conn, tlsCfg); err != nil {
			_ = conn.Close()
			return fmt.Errorf("notify: starttls with %s: %w", addr, err)
		}
	default:
		c = smtp.NewClient(conn)
	}
	defer c.Close()
	if mm.cfg.Username != "" {
		if err := c.Auth(sasl.NewPlainClient("", mm.cfg.Username, mm.cfg.Password)); err != nil {
			return fmt.Errorf("notify: authenticate to %s: %w", addr, err)
		}
	}
	// The steps of SendMail one by one, so that a refusal of the recipient
	// (RCPT TO) can be told from a refusal of the sender or the session.
	var opts *smtp.MailOptions
	if !isASCII(mm.cfg.From) || !isASCII(m.To) {
		opts = &smtp.MailOptions{UTF8: true}
	}
	if err := c.Mail(mm.cfg.From, opts); err != nil {
		if isASCII(mm.cfg.From) && !isASCII(m.To) {
			// Refused for the recipient's address alone (a server
			// without SMTPUTF8): other people's mail goes on.
			return fmt.Errorf("notify: %s at MAIL FROM:<%s>, for a UTF-8 address: %w", addr, mm.cfg.From, &recipientError{err})
		}
		return fmt.Errorf("notify: %s at MAIL FROM:<%s>: %w", addr, mm.cfg.From, err)
	}
	if err := c.Rcpt(m.To, nil); err != nil {
		return fmt.Errorf("notify: %s: %w", addr, &recipientError{err})
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("notify: send to %s: %w", addr, err)
	}
	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("notify: send to %s: %w", addr, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("notify: send to %s: %w", addr, &messageError{err})
	}
	// The message is accepted once DATA ends; a failed QUIT changes nothing.
	_ = c.Quit()
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// recipientError is the server's answer to RCPT TO: the one step whose
// refusal can be about the message's own recipient.
type recipientError struct{ err error }

func (e *recipientError) Error() string { return "at RCPT TO: " + e.err.Error() }
func (e *recipientError) Unwrap() error { return e.err }

// RefusedAtEndOfData reports whether err is the server's permanent refusal
// of a message at the end of DATA, after it accepted the sender and the
// recipient.
func RefusedAtEndOfData(err error) bool {
	var me *messageError
	var se *smtp.SMTPError
	return errors.As(err, &me) && errors.As(err, &se) && se.Code >= 500
}

// messageError is the server's answer to the end of DATA, once it has
// accepted the sender and the recipient: a refusal then (a content or
// policy filter's 5.7.1, a message too large) is about this message.
type messageError struct{ err error }

func (e *messageError) Error() string { return "at the end of DATA: " + e.err.Error() }
func (e *messageError) Unwrap() error { return e.err }

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// Timeout is how long one message's delivery may take, connection
// included: the outbox holds a claimed batch for at least this long per
// message.
func (mm *Mailer) Timeout() time.Duration { return mm.cfg.Timeout }

// AboutRecipient reports whether err is about the message's recipient
// rather than the mail server, so that mail to other people may go on: a
// refusal at RCPT TO (a full or disabled mailbox, greylisting, a policy
// about that address) or an answer whose enhanced status is about the
// address (X.1.Y) or the mailbox (X.2.Y). A server closing the session
// (421), failing as a whole (X.3.Y, X.4.Y) or refusing our sender (X.1.7,
// X.1.8) is not. A permanent refusal at the end of DATA, the server having
// accepted the sender and the recipient, is about this message alone (a
// filter's 5.7.1, a size limit), whatever its code: taken for the server's,
// the refused message, sorting first, would head every batch after it and
// hold everyone's mail back.
func AboutRecipient(err error) bool {
	var se *smtp.SMTPError
	var me *messageError
	if errors.As(err, &me) {
		return errors.As(err, &se) && se.Code >= 500
	}
	if errors.As(err, &se) {
		switch {
		case se.Code == 421 || se.EnhancedCode[1] == 3 || se.EnhancedCode[1] == 4,
			se.EnhancedCode[1] == 1 && (se.EnhancedCode[2] == 7 || se.EnhancedCode[2] == 8):
			return false
		case se.EnhancedCode[1] == 1 || se.EnhancedCode[1] == 2:
			return true
		}
	}
	var re *recipientError
	return errors.As(err, &re)
}

// Permanent reports whether err means the message can never be delivered,
// so that trying again is pointless: a message that cannot be written
// (ErrHeader), or the server refusing its recipient's address for good
// at RCPT TO, with a 5xx reply and an RFC 3463 enhanced code 5.1.x that is
// about the destination (5.1.1 no such mailbox, 5.1.2 no such domain,
// 5.1.3 bad address syntax, 5.1.4 ambiguous, 5.1.6 moved, 5.1.10 null MX).
//
// Everything else waits and is tried again, because it is not the
// message's own fault and refusing it for good would drop every notice:
// a server that is down or busy, 4xx replies, a refused sender (at MAIL
// FROM, or 5.1.7/5.1.8 at RCPT TO where Postfix reports it), policy and
// authentication refusals (5.7.x, 502/503/530 "authenticate first",
// relaying denied), a full mailbox (5.2.2), and a 5xx reply without an
// enhanced code, which does not say whose fault it is.
func Permanent(err error) bool {
	if errors.Is(err, ErrHeader) {
		return true
	}
	var re *recipientError
	var se *smtp.SMTPError
	if !errors.As(err, &re) || !errors.As(re.err, &se) {
		return false
	}
	if se.Code < 500 || se.Code > 599 || se.EnhancedCode[0] != 5 || se.EnhancedCode[1] != 1 {
		return false
	}
	switch se.EnhancedCode[2] {
	case 1, 2, 3, 4, 6, 10:
		return true
	}
	return false
}

// Refused reports whether the mail server refused err with a 5xx reply
// that Permanent does not blame on the message: the message is kept and
// tried again, but the reply will not change by itself (a sender or relay
// the server will not accept, credentials missing or wrong, a full
// mailbox), so an operator must look.
func Refused(err error) bool {
	var se *smtp.SMTPError
	return errors.As(err, &se) && se.Code >= 500 && se.Code <= 599 && !Permanent(err)
}
