package notify

import (
	"bytes"
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
	// (default 30s).
	Timeout time.Duration
}

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
		cfg.Timeout = 30 * time.Second
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
	if err := c.SendMail(mm.cfg.From, []string{m.To}, bytes.NewReader(data)); err != nil {
		return fmt.Errorf("notify: send to %s: %w", addr, err)
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

// Permanent reports whether err means the message can never be delivered,
// so that trying again is pointless: the server refused it for good (an
// SMTP 5xx reply) for a reason that is the message's own, such as an
// unknown recipient. A server that is down or busy, a 4xx reply, and
// refusals that are the deployment's to fix (authentication, 530-538) are
// not permanent: the message waits until they are fixed.
func Permanent(err error) bool {
	var se *smtp.SMTPError
	if !errors.As(err, &se) {
		return errors.Is(err, ErrHeader)
	}
	if se.Code < 500 || se.Code > 599 {
		return false
	}
	switch se.Code {
	case 530, 534, 535, 538:
		return false
	}
	return true
}
