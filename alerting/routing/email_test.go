package routing

import (
	"bufio"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// smtpServer is a minimal SMTP server (no TLS, no auth) that keeps the
// messages it receives.
type smtpServer struct {
	ln   net.Listener
	mu   sync.Mutex
	msgs []string
	rcpt []string
}

func newSMTP(t *testing.T) *smtpServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *smtpServer) serve(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	w := func(l string) { _, _ = c.Write([]byte(l + "\r\n")) }
	w("220 test ESMTP")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			w("250-test")
			w("250 8BITMIME")
		case strings.HasPrefix(cmd, "RCPT TO:"):
			s.mu.Lock()
			s.rcpt = append(s.rcpt, strings.TrimSpace(line[8:]))
			s.mu.Unlock()
			w("250 OK")
		case strings.HasPrefix(cmd, "DATA"):
			w("354 go ahead")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(l)
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, b.String())
			s.mu.Unlock()
			w("250 OK")
		case strings.HasPrefix(cmd, "QUIT"):
			w("221 bye")
			return
		default:
			w("250 OK")
		}
	}
}

func (s *smtpServer) messages() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.msgs...)
}

// The import's EMAIL subscription: one mail per change, subject with the
// state and check name, to the subscription's address.
func TestEmail(t *testing.T) {
	slack, pd, hook := newSlack(t), newPagerDutyV1(t), newReceiver(t)
	mail := newSMTP(t)
	cfg := seyrenFixture(t, slack, pd, hook)
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), "smtp_smarthost: smtp.example.org:587", "smtp_smarthost: "+mail.ln.Addr().String(), 1)
	s = strings.Replace(s, "smtp_require_tls: true", "smtp_require_tls: false", 1)
	writeFile(t, cfg, s)
	r := startRouter(t, cfg, t.TempDir())
	start := time.Now()
	r.Send(alert("5a1f00000000000000000003", "thumbnails resize backlog", "critical", "app=thumbnails,", "6000", start, start.Add(time.Hour)))
	deadline := time.Now().Add(5 * time.Second)
	for len(mail.messages()) < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("no mail; logs:\n%s", r.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	m := mail.messages()[0]
	for _, want := range []string{"Subject: ERROR: thumbnails resize backlog\r\n", "To: ops@example.org\r\n", "From: alertmanager@example.org\r\n"} {
		if !strings.Contains(m, want) {
			t.Errorf("mail lacks %q:\n%s", want, m)
		}
	}
	r.Send(alert("5a1f00000000000000000003", "thumbnails resize backlog", "critical", "app=thumbnails,", "6000", start, time.Now()))
	deadline = time.Now().Add(5 * time.Second)
	for len(mail.messages()) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("no resolve mail")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if m := mail.messages()[1]; !strings.Contains(m, "Subject: OK: thumbnails resize backlog\r\n") {
		t.Errorf("resolve mail:\n%s", m)
	}
}
