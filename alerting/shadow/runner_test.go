package shadow

import (
	"errors"
	"testing"

	"github.com/copenhagen-obs/copenhagen/translate/graphiteweb"
)

// Seyren's DefaultValueCheckerTest, case by case (same names, same values).
func TestCheckValueSeyren(t *testing.T) {
	for _, tc := range []struct {
		name               string
		value, warn, error string
		want               State
	}{
		{"alertHasOkStateForBadHighValueWhenValueIsLessThanWarn", "0.10", "0.15", "0.20", OK},
		{"alertHasWarnStateForBadHighValueWhenValueIsEqualToWarn", "0.15", "0.15", "0.20", Warn},
		{"alertHasWarnStateForBadHighValueWhenValueIsGreaterToWarnButLessThanError", "0.16", "0.15", "0.20", Warn},
		{"alertHasErrorStateForBadHighValueWhenValueIsEqualToError", "0.20", "0.15", "0.20", Error},
		{"alertHasErrorStateForBadHighValueWhenValueIsGreaterThanError", "0.21", "0.15", "0.20", Error},
		{"alertHasOkStateForBadLowValueWhenValueIsGreaterThanWarn", "0.21", "0.20", "0.15", OK},
		{"alertHasWarnStateForBadLowValueWhenValueIsEqualToWarn", "0.20", "0.20", "0.15", Warn},
		{"alertHasWarnStateForBadLowValueWhenValueIsLessThanWarnButGreaterThanError", "0.19", "0.20", "0.15", Warn},
		{"alertHasErrorStateForBadLowValueWhenValueIsEqualToError", "0.15", "0.20", "0.15", Error},
		{"alertHasErrorStateForBadLowValueWhenValueIsLessThanError", "0.14", "0.20", "0.15", Error},
		// Beyond Seyren's tests: decimals are exact where float64 is not,
		// and equal thresholds are "higher is worse".
		{"decimalExactAtThreshold", "0.3", "0.1", "0.30", Error},
		{"floatWouldSayWarn", "0.30000000000000001", "0.1", "0.3", Error},
		{"equalThresholdsHighIsWorse", "5", "5", "5", Error},
	} {
		t.Run(tc.name, func(t *testing.T) {
			th, err := ParseThresholds(tc.warn, tc.error)
			if err != nil {
				t.Fatal(err)
			}
			v, err := parseDecimal(tc.value)
			if err != nil {
				t.Fatal(err)
			}
			if got := CheckValue(v, th); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func render(t *testing.T, body string) []graphiteweb.Series {
	t.Helper()
	s, err := graphiteweb.ParseRender([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Seyren's GraphiteTargetCheckerTest (values keyed by target name).
func TestReduceSeyren(t *testing.T) {
	type want struct {
		present bool
		text    string
	}
	for _, tc := range []struct {
		name string
		body string
		err  error
		want map[string]want
	}{
		{"singleValidTargetIsPresent / HasCorrectValue",
			`[{"target": "service.error.1MinuteRate", "datapoints": [[0.06, 1337453460]]}]`, nil,
			map[string]want{"service.error.1MinuteRate": {true, "0.06"}}},
		{"valueIsDeterminedByGoingThroughDatapointsInReverserOrder",
			`[{"target": "service.error.1MinuteRate", "datapoints": [[0.20, 1337453460],[0.01, 1337453463]]}]`, nil,
			map[string]want{"service.error.1MinuteRate": {true, "0.01"}}},
		{"valueIsDeterminedBySkippingNullValues",
			`[{"target": "service.error.1MinuteRate", "datapoints": [[0.17, 1337453460],[null, 1337453463]]}]`, nil,
			map[string]want{"service.error.1MinuteRate": {true, "0.17"}}},
		{"targetWhichOnlyHasNullValuesIsAbsent",
			`[{"target": "service.error.1MinuteRate", "datapoints": [[null, 1337453460],[null, 1337453463]]}]`, nil,
			map[string]want{"service.error.1MinuteRate": {false, ""}}},
		{"multipleTargetsAreHandledCorrectly",
			`[{"target": "service.error.1MinuteRate", "datapoints": [[0.20, 1337453460],[0.01, 1337453463]]},
			  {"target": "service.warn.1MinuteRate", "datapoints": [[0.56, 1337453460],[0.78, 1337453463]]}]`, nil,
			map[string]want{"service.error.1MinuteRate": {true, "0.01"}, "service.warn.1MinuteRate": {true, "0.78"}}},
		{"exceptionGettingDataFromGraphiteIsHandled", `[]`, errors.New("Graphite bad times"), map[string]want{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			th, _ := ParseThresholds("0.15", "0.20")
			res := Run(render(t, tc.body), tc.err, th, false, LastStates{})
			if len(res.Targets) != len(tc.want) {
				t.Fatalf("got %d targets, want %d", len(res.Targets), len(tc.want))
			}
			for _, tr := range res.Targets {
				w, ok := tc.want[tr.Target]
				if !ok || w.present != tr.Present || w.text != tr.Text {
					t.Fatalf("target %s: present %v text %q, want %+v", tr.Target, tr.Present, tr.Text, w)
				}
			}
		})
	}
}

// Seyren's CheckRunnerTest. Its mocks become inputs: the rendered answer
// (or a failure), the target's last alert state, allowNoData. What it
// verifies becomes the expected check state, alert row and notification
// (subscription matching — shouldNotify, canHandle — is routing's
// business, tested in alerting/routing; here Notify says the state
// changed, which is when Seyren asks the subscriptions).
func TestRunSeyren(t *testing.T) {
	const one = `[{"target": "target", "datapoints": [[1, 60]]}]`
	for _, tc := range []struct {
		name        string
		body        string
		fetchErr    error
		allowNoData bool
		last        LastStates
		warn, error string
		// value -> state, as the mocked ValueChecker answers
		wantState        State
		wantAlert        bool
		wantNotify       bool
		wantTargets      int
		wantAborted      bool
		wantAlertingKept State
	}{
		// checkWhichIsNotEnabledDoesNothing: disabled checks are not
		// imported into rule groups, so the shadow never runs them
		// (tested in TestObserveIgnoresOtherGroups).
		{name: "noTargetValuesUpdatesLastCheckWithUnknown", body: `[]`, warn: "2", error: "3", wantState: Unknown, wantAlertingKept: Unknown},
		{name: "noTargetValuesButAllowNoDataUpdatesLastCheckWithOk", body: `[]`, allowNoData: true, warn: "2", error: "3", wantState: OK, wantAlertingKept: OK},
		{name: "anExceptionWhileRunningIsHandled", body: `[]`, fetchErr: errors.New("Boom!"), warn: "2", error: "3", wantState: Unknown, wantAlertingKept: Unknown},
		{name: "emptyTargetValueDoesNothing", body: `[{"target": "target", "datapoints": [[null, 60]]}]`, warn: "2", error: "3", wantState: Unknown, wantTargets: 1, wantAlertingKept: Unknown},
		{name: "noPreviousAlertAndHappyCurrentValueDoesNothing", body: one, warn: "2", error: "3", wantState: OK, wantTargets: 1, wantAlertingKept: OK},
		{name: "createAlertButDoNotNotifyIfStateIsTheSame", body: one, last: LastStates{"target": Warn}, warn: "1", error: "3", wantState: Warn, wantAlert: true, wantTargets: 1, wantAlertingKept: Warn},
		{name: "changeOfStateButNoSubscriptionsDoesNothing", body: one, last: LastStates{"target": Warn}, warn: "0.5", error: "1", wantState: Error, wantAlert: true, wantNotify: true, wantTargets: 1, wantAlertingKept: Error},
		{name: "changeOfStateButSubscriptionWhichShouldNotNotifyDoesNothing", body: one, last: LastStates{"target": Warn}, warn: "0.5", error: "1", wantState: Error, wantAlert: true, wantNotify: true, wantTargets: 1, wantAlertingKept: Error},
		{name: "changeOfStateAndSubscriptionWhichShouldNotifyAndCannotHandleDoesNothing", body: one, last: LastStates{"target": Warn}, warn: "0.5", error: "1", wantState: Error, wantAlert: true, wantNotify: true, wantTargets: 1, wantAlertingKept: Error},
		{name: "changeOfStateAndSubscriptionWhichShouldNotifyAndCanHandleSendsNotification", body: one, last: LastStates{"target": Warn}, warn: "0.5", error: "1", wantState: Error, wantAlert: true, wantNotify: true, wantTargets: 1, wantAlertingKept: Error},
		{name: "exceptionWhileSendingNotificationIsHandled", body: one, last: LastStates{"target": Warn}, warn: "0.5", error: "1", wantState: Error, wantAlert: true, wantNotify: true, wantTargets: 1, wantAlertingKept: Error},
		// Beyond Seyren's tests, what its runner code does:
		{name: "backToOkNotifiesOnce", body: one, last: LastStates{"target": Error}, warn: "2", error: "3", wantState: OK, wantAlert: true, wantNotify: true, wantTargets: 1, wantAlertingKept: OK},
		{name: "absentValueKeepsLastState", body: `[{"target": "target", "datapoints": [[null, 60]]}]`, last: LastStates{"target": Error}, warn: "2", error: "3", wantState: Unknown, wantTargets: 1, wantAlertingKept: Error},
		{name: "infinityAbortsTheRun", body: `[{"target": "target", "datapoints": [[1e9999, 60]]}]`, last: LastStates{"target": Warn}, warn: "2", error: "3", wantState: Unknown, wantAborted: true, wantAlertingKept: Warn},
	} {
		t.Run(tc.name, func(t *testing.T) {
			th, err := ParseThresholds(tc.warn, tc.error)
			if err != nil {
				t.Fatal(err)
			}
			last := LastStates{}
			for k, v := range tc.last {
				last[k] = v
			}
			res := Run(render(t, tc.body), tc.fetchErr, th, tc.allowNoData, last)
			if res.State != tc.wantState {
				t.Fatalf("check state %s, want %s", res.State, tc.wantState)
			}
			if res.Aborted != tc.wantAborted {
				t.Fatalf("aborted %v", res.Aborted)
			}
			if len(res.Targets) != tc.wantTargets {
				t.Fatalf("%d targets, want %d", len(res.Targets), tc.wantTargets)
			}
			if res.Alerting != tc.wantAlertingKept {
				t.Fatalf("alerting %s, want %s", res.Alerting, tc.wantAlertingKept)
			}
			for _, tr := range res.Targets {
				if tr.Alert != tc.wantAlert || tr.Notify != tc.wantNotify {
					t.Fatalf("alert %v notify %v, want %v %v", tr.Alert, tr.Notify, tc.wantAlert, tc.wantNotify)
				}
			}
		})
	}
}

func TestParseDecimalBounds(t *testing.T) {
	for _, bad := range []string{"", "1e999999999", "abc", "1.2.3", "0x10", "NaN", "Infinity"} {
		if _, err := parseDecimal(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	for _, good := range []string{"0.06", "-5", "1e3", "1E-3", "+2"} {
		if _, err := parseDecimal(good); err != nil {
			t.Errorf("%q: %v", good, err)
		}
	}
}
