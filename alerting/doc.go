// Package alerting holds the seam between rule evaluation and routing:
// evaluated alerts go to a Sender, which is Copenhagen's in-process
// Alertmanager (alerting/routing), external Alertmanagers
// (alerting.alertmanagers), or both.
package alerting

import "github.com/prometheus/prometheus/notifier"

// Sender delivers alerts produced by rule evaluation. Implementations must
// not block evaluation: a slow receiver is the router's problem, not the
// evaluator's.
type Sender interface {
	Send(alerts ...*notifier.Alert)
}

// Senders fans alerts out to several Senders.
type Senders []Sender

// Send sends to each Sender in turn.
func (s Senders) Send(alerts ...*notifier.Alert) {
	for _, x := range s {
		x.Send(alerts...)
	}
}
