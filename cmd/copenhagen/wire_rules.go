package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"

	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"

	"github.com/copenhagen-obs/copenhagen/alerting"
	"github.com/copenhagen-obs/copenhagen/alerting/evaluate"
	"github.com/copenhagen-obs/copenhagen/cmd/internal/config"
	cstorage "github.com/copenhagen-obs/copenhagen/translate/storage"
)

// ruleWiring is what buildRules built, for /tv (wire_tv.go): the
// evaluator and the query function the rules read with.
type ruleWiring struct {
	evaluator *evaluate.Evaluator
	query     rules.QueryFunc
}

// buildRules wires rule evaluation: Prometheus's rules manager over the
// embedded storage (or rules.query_url), its alerts sent to local (the
// in-process Alertmanager buildAlerting returned, or nil) and to
// alerting.alertmanagers, /api/v1/rules, /api/v1/alerts and
// /api/v1/alertmanagers, and reloads that keep alert state.
func (a *app) buildRules(cfg *config.Config, st *cstorage.Storage, local alerting.Sender) (*ruleWiring, error) {
	rc := cfg.Rules
	var qf rules.QueryFunc
	var restore storage.Queryable
	q, qerr := st.Queryable() // an error in agent mode
	if qerr == nil {
		restore = q
	}
	if rc.QueryURL != "" {
		rt, err := commoncfg.NewRoundTripperFromConfig(rc.QueryClient.Prometheus(commoncfg.DefaultHTTPClientConfig), "rules_query")
		if err != nil {
			return nil, fmt.Errorf("rules.query_client: %w", err)
		}
		if qf, err = evaluate.RemoteQueryFunc(rc.QueryURL, rt, rc.QueryTimeout); err != nil {
			return nil, fmt.Errorf("rules.query_url: %w", err)
		}
		// `for` state comes back from the shared data too, so a fresh
		// pod (or agent mode) resumes pending and firing alerts.
		remote, err := evaluate.RemoteQueryable(rc.QueryURL, rt, rc.QueryTimeout)
		if err != nil {
			return nil, fmt.Errorf("rules.query_url: %w", err)
		}
		restore = evaluate.MergeQueryables(restore, remote)
	} else if qerr == nil {
		qf = evaluate.LocalQueryFunc(st.Engine(), q)
	} else {
		// Agent mode without rules.query_url, so without rules.files:
		// config.Validate refuses those (checkRulesNeedQueries), for
		// `check config` and `run` alike. Nothing to evaluate.
		a.reloaders = append(a.reloaders, func(next *config.Config) (func(), error) {
			if len(next.Rules.Files) == 0 && len(next.Alerting.Alertmanagers) == 0 {
				return nil, nil
			}
			return func() {
				a.logger.Warn("rules.files and alerting.alertmanagers were added in the file; they take effect at the next restart")
			}, nil
		})
		return nil, nil
	}

	ams := evaluate.NewAlertmanagers(0, a.reg, a.logger)
	applyAMs, err := ams.Prepare(alertmanagerTargets(cfg.Alerting.Alertmanagers))
	if err != nil {
		return nil, fmt.Errorf("alerting.alertmanagers: %w", err)
	}
	if err := applyAMs(); err != nil {
		return nil, fmt.Errorf("alerting.alertmanagers: %w", err)
	}
	senders := alerting.Senders{ams}
	if local != nil {
		senders = append(alerting.Senders{local}, ams)
	}

	shadowHook, err := a.buildShadow(cfg, qf) // wire_shadow.go
	if err != nil {
		return nil, err
	}
	ev, err := evaluate.New(evaluate.Options{
		Interval:        rc.EvaluationInterval,
		QueryFunc:       qf,
		Appendable:      st,
		Queryable:       restore,
		Sender:          senders,
		ExternalURL:     generatorBase(cfg),
		OutageTolerance: rc.OutageTolerance,
		ForGracePeriod:  rc.ForGracePeriod,
		ResendDelay:     rc.ResendDelay,
		NoDataIntervals: rc.NoDataIntervals,
		AfterIteration:  shadowHook,
		Logger:          a.logger,
		Registerer:      a.reg,
	})
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	if err := ev.Update(paths(rc.Files), rc.EvaluationInterval); err != nil {
		return nil, fmt.Errorf("rules.files: %w", err)
	}
	files, _ := evaluate.Files(paths(rc.Files))
	a.logger.Info("rules loaded", "files", len(files), "groups", len(ev.Manager().RuleGroups()),
		"query_url", rc.QueryURL != "", "alertmanagers", len(cfg.Alerting.Alertmanagers))

	var once sync.Once
	stop := func() error {
		once.Do(func() {
			ev.Stop()
			ams.Stop()
		})
		return nil
	}
	// Rules stop with the pipeline: after ingestion, before the storage
	// they append to closes (stageShip). The notifier drains its queue.
	a.add(component{name: "rules", stage: stagePipeline, serve: func(ctx context.Context) error {
		// Evaluation itself started with evaluate.New; close stops it.
		go ams.Run()
		<-ctx.Done()
		return nil
	}, close: closer(stop)})
	a.routeHooks = append(a.routeHooks, func(mux *http.ServeMux) { ev.Register(mux, ams, version) })

	a.reloaders = append(a.reloaders, func(next *config.Config) (func(), error) {
		nr := next.Rules
		changed := changedKeys("rules", rc, nr, "files", "evaluation_interval")
		if err := ev.Check(paths(nr.Files)); err != nil {
			return nil, fmt.Errorf("rules.files: %w", err)
		}
		apply, err := ams.Prepare(alertmanagerTargets(next.Alerting.Alertmanagers))
		if err != nil {
			return nil, fmt.Errorf("alerting.alertmanagers: %w", err)
		}
		return func() {
			if len(changed) > 0 {
				a.logger.Warn("rules settings changed in the file; they take effect at the next restart", "keys", changed)
			}
			if err := apply(); err != nil {
				a.logger.Error("alerting.alertmanagers reload failed", "err", err)
			}
			if err := ev.Update(paths(nr.Files), nr.EvaluationInterval); err != nil {
				a.logger.Error("rules reload failed; the previous rules keep running", "err", err)
			}
		}, nil
	})
	return &ruleWiring{evaluator: ev, query: qf}, nil
}

func paths(ps []config.Path) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = string(p)
	}
	return out
}

// generatorBase prefixes the generatorURL of alerts: the external URL
// without its trailing slash, "" without one.
func generatorBase(cfg *config.Config) string {
	if u := cfg.ExternalURL(); u != nil {
		return strings.TrimSuffix(u.String(), "/")
	}
	return ""
}

func alertmanagerTargets(in []config.AlertmanagerConfig) []evaluate.AlertmanagerTarget {
	out := make([]evaluate.AlertmanagerTarget, len(in))
	for i, c := range in {
		out[i] = evaluate.AlertmanagerTarget{URLs: c.URLs, Timeout: c.Timeout, HTTPClient: c.HTTPClientConfig.Prometheus(commoncfg.DefaultHTTPClientConfig)}
	}
	return out
}
