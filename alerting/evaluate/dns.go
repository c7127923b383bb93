package evaluate

import (
	"context"
	"maps"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/discovery/targetgroup"
)

// DNSRefreshInterval is how often dns+ and dnssrv+ Alertmanager URLs
// are resolved again (Prometheus's dns_sd_configs default is 30 s).
var DNSRefreshInterval = 30 * time.Second

// dnsName is one dns+ or dnssrv+ URL of an alerting.alertmanagers entry.
type dnsName struct {
	key  string // the notifier's alertmanager set, "config-<i>"
	host string
	port string // "" for SRV
	srv  bool
}

type targetSet struct {
	static map[string][]*targetgroup.Group
	names  []dnsName
}

// push hands the newest target set to the notifier, replacing a pending
// one.
func (a *Alertmanagers) push(tgs map[string][]*targetgroup.Group) {
	select {
	case <-a.tsets:
	default:
	}
	a.tsets <- tgs
}

// refreshDNS resolves the DNS-based targets when a configuration is
// applied and every DNSRefreshInterval. A name that does not resolve
// keeps its last addresses: a DNS hiccup must not leave alerts with no
// Alertmanager.
func (a *Alertmanagers) refreshDNS() {
	last := map[dnsName][]string{}
	tick := time.NewTicker(DNSRefreshInterval)
	defer tick.Stop()
	for {
		select {
		case <-a.stopc:
			return
		case <-a.resolve:
		case <-tick.C:
		}
		ts := a.targets.Load()
		if ts == nil || len(ts.names) == 0 {
			continue
		}
		tgs := maps.Clone(ts.static)
		for _, n := range ts.names {
			addrs, err := lookup(n)
			if err != nil || len(addrs) == 0 {
				addrs = last[n]
			} else {
				last[n] = addrs
			}
			g := &targetgroup.Group{Source: "dns:" + n.host}
			for _, ad := range addrs {
				g.Targets = append(g.Targets, model.LabelSet{model.AddressLabel: model.LabelValue(ad)})
			}
			tgs[n.key] = append(slices.Clone(tgs[n.key]), g)
		}
		a.push(tgs)
	}
}

func lookup(n dnsName) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []string
	if n.srv {
		_, srvs, err := net.DefaultResolver.LookupSRV(ctx, "", "", n.host)
		if err != nil {
			return nil, err
		}
		for _, s := range srvs {
			out = append(out, net.JoinHostPort(trimDot(s.Target), strconv.Itoa(int(s.Port))))
		}
	} else {
		ips, err := net.DefaultResolver.LookupHost(ctx, n.host)
		if err != nil {
			return nil, err
		}
		for _, ip := range ips {
			out = append(out, net.JoinHostPort(ip, n.port))
		}
	}
	slices.Sort(out)
	return out, nil
}

func trimDot(s string) string {
	if len(s) > 0 && s[len(s)-1] == '.' {
		return s[:len(s)-1]
	}
	return s
}
