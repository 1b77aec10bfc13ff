// Package smtptest runs a real SMTP server (github.com/emersion/go-smtp) on
// 127.0.0.1 for tests: STARTTLS with a certificate made for the test, PLAIN
// authentication required after it, and a record of every message it
// accepts. It can be stopped and started again on the same address, to
// test a mail server that goes down. It is not a mock: mail reaches it over
// TCP through the same client code that production uses.
package smtptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/dissent-channel/dissent/internal/notify"
)

// Received is one accepted message.
type Received struct {
	From    string
	To      []string
	Data    []byte
	Header  mail.Header
	Body    string
	At      time.Time // by the clock given to Start
	TLS     bool      // the session was encrypted
	AuthAs  string    // the username it authenticated as
	Subject string
}

// Server is a running test mail server.
type Server struct {
	Addr     string
	Host     string
	Port     int
	Username string
	Password string
	// Certs trusts the server's certificate.
	Certs *x509.CertPool

	t      testing.TB
	now    func() time.Time
	tlsCfg *tls.Config

	mu     sync.Mutex
	srv    *smtp.Server
	ln     net.Listener
	msgs   []Received
	reject map[string]bool
	refuse map[string]*smtp.SMTPError
	filter map[string]*smtp.SMTPError // by recipient, at the end of DATA
}

// Start runs a server until the test ends; now stamps received messages
// (the test's controllable clock).
func Start(t testing.TB, now func() time.Time) *Server {
	t.Helper()
	cert, pool := certificate(t)
	s := &Server{Username: "dissent-mailer", Password: "mail-password-1", Certs: pool, t: t, now: now,
		tlsCfg: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, reject: map[string]bool{},
		refuse: map[string]*smtp.SMTPError{}, filter: map[string]*smtp.SMTPError{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtptest: %v", err)
	}
	s.Addr = ln.Addr().String()
	host, port, _ := net.SplitHostPort(s.Addr)
	s.Host = host
	s.Port, _ = strconv.Atoi(port)
	s.serve(ln)
	t.Cleanup(s.Stop)
	return s
}

// Config is a mailer configuration that reaches this server with
// STARTTLS and the right credentials.
func (s *Server) Config(from string) notify.Config {
	return notify.Config{Host: s.Host, Port: s.Port, Username: s.Username, Password: s.Password, From: from, TLS: "starttls",
		TLSConfig: &tls.Config{RootCAs: s.Certs, ServerName: s.Host, MinVersion: tls.VersionTLS12}, Timeout: 10 * time.Second}
}

func (s *Server) serve(ln net.Listener) {
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &session{s: s, c: c}, nil }))
	srv.Domain = "mail.test"
	srv.TLSConfig = s.tlsCfg
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.MaxMessageBytes = 1 << 20
	srv.MaxRecipients = 10
	srv.ErrorLog = discard{}
	s.mu.Lock()
	s.srv, s.ln = srv, ln
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// Stop takes the server down: connections are refused until Restart.
func (s *Server) Stop() {
	s.mu.Lock()
	srv, ln := s.srv, s.ln
	s.srv, s.ln = nil, nil
	s.mu.Unlock()
	if srv != nil {
		// Close the listener ourselves too: Serve may not have registered
		// it with the server yet.
		_ = ln.Close()
		_ = srv.Close()
	}
}

// Restart brings a stopped server back on the same address.
func (s *Server) Restart() {
	s.t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the old socket may linger a moment
		if ln, err = net.Listen("tcp", s.Addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatalf("smtptest: restart on %s: %v", s.Addr, err)
	}
	s.serve(ln)
}

// Reject makes the server refuse a recipient for good (550).
func (s *Server) Reject(addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reject[strings.ToLower(addr)] = true
}

// Refuse makes the server answer every command ("MAIL", "RCPT" or
// "DATA") with reply, as a mail server set up otherwise than the
// deployment expects would; a nil reply accepts the command again.
func (s *Server) Refuse(command string, reply *smtp.SMTPError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch command {
	case "MAIL", "RCPT", "DATA":
	default:
		s.t.Fatalf("smtptest: Refuse(%q): want MAIL, RCPT or DATA", command)
	}
	if reply == nil {
		delete(s.refuse, command)
		return
	}
	s.refuse[command] = reply
}

// RefuseMessagesTo makes the server accept the sender and the recipient
// addr and then refuse the message at the end of DATA with reply, as a
// content or policy filter does; a nil reply accepts them again.
func (s *Server) RefuseMessagesTo(addr string, reply *smtp.SMTPError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if reply == nil {
		delete(s.filter, strings.ToLower(addr))
		return
	}
	s.filter[strings.ToLower(addr)] = reply
}

// refusal is the reply set for command, or nil.
func (s *Server) refusal(command string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.refuse[command]; r != nil {
		return r
	}
	return nil
}

// Messages returns what the server accepted so far, oldest first.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.msgs...)
}

type session struct {
	s      *Server
	c      *smtp.Conn
	authAs string
	from   string
	to     []string
}

func (ss *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != ss.s.Username || password != ss.s.Password {
			return errors.New("invalid username or password")
		}
		ss.authAs = username
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.authAs == "" {
		return smtp.ErrAuthRequired
	}
	if err := ss.s.refusal("MAIL"); err != nil {
		return err
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := ss.s.refusal("RCPT"); err != nil {
		return err
	}
	ss.s.mu.Lock()
	bad := ss.s.reject[strings.ToLower(to)]
	ss.s.mu.Unlock()
	if bad {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if err := ss.s.refusal("DATA"); err != nil {
		return err
	}
	ss.s.mu.Lock()
	for _, to := range ss.to {
		if reply := ss.s.filter[strings.ToLower(to)]; reply != nil {
			ss.s.mu.Unlock()
			return reply
		}
	}
	ss.s.mu.Unlock()
	rec := Received{From: ss.from, To: ss.to, Data: b, At: ss.s.now(), AuthAs: ss.authAs}
	_, rec.TLS = ss.c.TLSConnectionState()
	if m, err := mail.ReadMessage(strings.NewReader(string(b))); err == nil {
		rec.Header = m.Header
		body, _ := io.ReadAll(m.Body)
		rec.Body = string(body)
		rec.Subject = m.Header.Get("Subject")
	}
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, rec)
	ss.s.mu.Unlock()
	return nil
}

func (ss *session) Reset()        { ss.from, ss.to = "", nil }
func (ss *session) Logout() error { return nil }

type discard struct{}

func (discard) Printf(string, ...any) {}
func (discard) Println(...any)        {}

// certificate makes a self-signed certificate for 127.0.0.1.
func certificate(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "smtptest"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
