package main

import (
	"github.com/copenhagen-obs/copenhagen/translate/storage/storagetest"

	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/copenhagen-obs/copenhagen/cmd/internal/config"
)

const kubeDir = "../../deploy/kubernetes"

// kubeOverlays are the supported installations; the test fails when a
// directory under overlays/ is missing here, so none goes untested.
var kubeOverlays = []string{"node-agent", "node-agent-unixgram", "embedded-storage", "vm-cluster"}

// strictDecoder decodes with Kubernetes' own types and apimachinery's
// strict codec: unknown fields (wrong case included, which a plain
// encoding/json decode accepts) and duplicate keys are errors.
func strictDecoder(t *testing.T) runtime.Decoder {
	t.Helper()
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, policyv1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	return serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
}

func kustomize(t *testing.T, dir string) []byte {
	t.Helper()
	kubectl := storagetest.NeedTool(t, "kubectl", ".ci/deps.d/container.sh")
	var stderr bytes.Buffer
	cmd := exec.Command(kubectl, "kustomize", dir)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kubectl kustomize %s: %v\n%s", dir, err, stderr.String())
	}
	return out
}

// rendered is one overlay's objects by kind.
type rendered struct {
	daemonSets   []*appsv1.DaemonSet
	statefulSets []*appsv1.StatefulSet
	services     []*corev1.Service
	configMaps   map[string]*corev1.ConfigMap
	pdbs         []*policyv1.PodDisruptionBudget
}

func decodeAll(t *testing.T, name string, docs []byte) rendered {
	t.Helper()
	dec := strictDecoder(t)
	r := rendered{configMaps: map[string]*corev1.ConfigMap{}}
	rd := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(docs)))
	for {
		doc, err := rd.Read()
		if err != nil {
			break
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		obj, gvk, err := dec.Decode(doc, nil, nil)
		if err != nil {
			t.Fatalf("%s: strict decode: %v\n%s", name, err, doc)
		}
		switch o := obj.(type) {
		case *appsv1.DaemonSet:
			r.daemonSets = append(r.daemonSets, o)
		case *appsv1.StatefulSet:
			r.statefulSets = append(r.statefulSets, o)
		case *corev1.Service:
			r.services = append(r.services, o)
		case *corev1.ConfigMap:
			r.configMaps[o.Name] = o
		case *policyv1.PodDisruptionBudget:
			r.pdbs = append(r.pdbs, o)
		case *corev1.Namespace:
		default:
			t.Fatalf("%s: unexpected kind %s", name, gvk)
		}
	}
	return r
}

// The strict codec is what catches a wrong-case field name: this test
// makes sure it does, so that the overlay test below can fail.
func TestKubernetesStrictDecodingCatchesWrongCase(t *testing.T) {
	dec := strictDecoder(t)
	good := []byte("apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec:\n  ports:\n  - port: 9094\n    protocol: UDP\n")
	if _, _, err := dec.Decode(good, nil, nil); err != nil {
		t.Fatalf("good: %v", err)
	}
	for _, bad := range []string{
		"apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec:\n  ports:\n  - port: 9094\n    Protocol: UDP\n",
		"apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec:\n  publishNotReadyAddress: true\n",
		"apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec:\n  clusterIP: None\n  clusterIP: None\n",
	} {
		if _, _, err := dec.Decode([]byte(bad), nil, nil); err == nil {
			t.Errorf("accepted:\n%s", bad)
		}
	}
}

func TestKubernetesOverlays(t *testing.T) {
	dirs, err := os.ReadDir(filepath.Join(kubeDir, "overlays"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if !slices.Contains(kubeOverlays, d.Name()) {
			t.Errorf("overlay %s is not tested: add it to kubeOverlays", d.Name())
		}
	}
	// The base renders on its own, as the README says.
	base := decodeAll(t, "base", kustomize(t, kubeDir))
	if len(base.daemonSets) != 1 {
		t.Fatalf("base: %d DaemonSets", len(base.daemonSets))
	}
	for _, name := range kubeOverlays {
		t.Run(name, func(t *testing.T) {
			r := decodeAll(t, name, kustomize(t, filepath.Join(kubeDir, "overlays", name)))
			if len(r.daemonSets) != 1 {
				t.Fatalf("%d DaemonSets, want the node agent", len(r.daemonSets))
			}
			checkNodeAgent(t, r.daemonSets[0], name == "node-agent-unixgram")
			checkConfigs(t, r, &r.daemonSets[0].Spec.Template.Spec)
			for _, s := range r.statefulSets {
				checkAlertingTier(t, r, s)
				checkConfigs(t, r, &s.Spec.Template.Spec)
			}
			if name == "vm-cluster" && len(r.statefulSets) != 1 {
				t.Fatalf("vm-cluster: %d StatefulSets, want the HA alerting tier", len(r.statefulSets))
			}
		})
	}
}

func hostPath(spec *corev1.PodSpec, mountPath string) (*corev1.VolumeMount, *corev1.HostPathVolumeSource) {
	for i, m := range spec.Containers[0].VolumeMounts {
		if m.MountPath != mountPath {
			continue
		}
		for _, v := range spec.Volumes {
			if v.Name == m.Name && v.HostPath != nil {
				return &spec.Containers[0].VolumeMounts[i], v.HostPath
			}
		}
	}
	return nil, nil
}

func checkNodeAgent(t *testing.T, ds *appsv1.DaemonSet, unixgram bool) {
	t.Helper()
	spec := &ds.Spec.Template.Spec
	c := spec.Containers[0]
	if m, hp := hostPath(spec, "/var/log/pods"); hp == nil || hp.Path != "/var/log/pods" || !m.ReadOnly {
		t.Errorf("/var/log/pods must be a read-only hostPath mount")
	}
	if m, hp := hostPath(spec, "/var/lib/copenhagen"); hp == nil || hp.Path != "/var/lib/copenhagen" || m.ReadOnly ||
		hp.Type == nil || *hp.Type != corev1.HostPathDirectoryOrCreate {
		t.Errorf("state must be a writable hostPath /var/lib/copenhagen (DirectoryOrCreate)")
	}
	if unixgram {
		if spec.HostNetwork {
			t.Error("unixgram overlay: hostNetwork should be off")
		}
		if _, hp := hostPath(spec, "/var/run/copenhagen"); hp == nil {
			t.Error("unixgram overlay: the socket directory must be a hostPath")
		}
	} else {
		if !spec.HostNetwork || spec.DNSPolicy != corev1.DNSClusterFirstWithHostNet {
			t.Errorf("hostNetwork %v dnsPolicy %s: StatsD must be on the node's address", spec.HostNetwork, spec.DNSPolicy)
		}
		if !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.ContainerPort == 8125 && p.Protocol == corev1.ProtocolUDP }) {
			t.Error("no 8125/UDP port")
		}
	}
	if !slices.ContainsFunc(spec.Tolerations, func(tl corev1.Toleration) bool {
		return tl.Operator == corev1.TolerationOpExists && tl.Key == "" && tl.Effect == ""
	}) {
		t.Errorf("tolerations %v: must tolerate every taint", spec.Tolerations)
	}
	if spec.PriorityClassName != "system-node-critical" {
		t.Errorf("priorityClassName %q", spec.PriorityClassName)
	}
	if spec.TerminationGracePeriodSeconds == nil || *spec.TerminationGracePeriodSeconds <= int64(shutdownBudget.Seconds()) {
		t.Errorf("terminationGracePeriodSeconds must exceed the shutdown budget %s", shutdownBudget)
	}
	u := ds.Spec.UpdateStrategy.RollingUpdate
	if u == nil || u.MaxSurge == nil || u.MaxSurge.IntValue() != 0 {
		t.Error("hostNetwork/hostPath DaemonSet: maxSurge must be 0")
	}
	checkContainer(t, c)
	sc := c.SecurityContext
	if sc.RunAsUser == nil || *sc.RunAsUser != 0 {
		t.Error("the node agent runs as root to read 0640 root-owned pod logs")
	}
	if !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool {
		return e.Name == "NODE_NAME" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "spec.nodeName"
	}) {
		t.Error("NODE_NAME must come from spec.nodeName")
	}
}

// checkContainer holds for every Copenhagen container.
func checkContainer(t *testing.T, c corev1.Container) {
	t.Helper()
	for probe, want := range map[*corev1.Probe]string{c.ReadinessProbe: "/-/ready", c.LivenessProbe: "/-/healthy"} {
		if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != want || probe.HTTPGet.Port.IntValue() != 9095 {
			t.Errorf("probe on %s:9095 missing", want)
		}
	}
	lim, req := c.Resources.Limits, c.Resources.Requests
	if lim.Memory().IsZero() || lim.Cpu().IsZero() || req.Memory().IsZero() || req.Cpu().IsZero() {
		t.Errorf("resources %v: requests and limits must be set", c.Resources)
	}
	if !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool {
		return e.Name == "GOMEMLIMIT" && e.ValueFrom != nil && e.ValueFrom.ResourceFieldRef != nil && e.ValueFrom.ResourceFieldRef.Resource == "limits.memory"
	}) {
		t.Error("GOMEMLIMIT must come from limits.memory")
	}
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		t.Errorf("securityContext %+v: read-only root, no privilege escalation, all capabilities dropped", sc)
	}
}

func checkAlertingTier(t *testing.T, r rendered, s *appsv1.StatefulSet) {
	t.Helper()
	if s.Spec.Replicas == nil || *s.Spec.Replicas < 2 {
		t.Errorf("%s: replicas must be 2 or more", s.Name)
	}
	if s.Spec.PodManagementPolicy != appsv1.ParallelPodManagement {
		t.Errorf("%s: podManagementPolicy %s", s.Name, s.Spec.PodManagementPolicy)
	}
	var svc *corev1.Service
	for _, x := range r.services {
		if x.Name == s.Spec.ServiceName {
			svc = x
		}
	}
	if svc == nil || svc.Spec.ClusterIP != corev1.ClusterIPNone || !svc.Spec.PublishNotReadyAddresses {
		t.Fatalf("%s: serviceName %q must be a headless Service publishing not-ready addresses", s.Name, s.Spec.ServiceName)
	}
	for _, proto := range []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP} {
		if !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Port == 9094 && p.Protocol == proto }) {
			t.Errorf("%s: gossip 9094/%s missing", svc.Name, proto)
		}
		if !slices.ContainsFunc(s.Spec.Template.Spec.Containers[0].Ports, func(p corev1.ContainerPort) bool { return p.ContainerPort == 9094 && p.Protocol == proto }) {
			t.Errorf("%s: container port 9094/%s missing", s.Name, proto)
		}
	}
	if !slices.ContainsFunc(r.pdbs, func(p *policyv1.PodDisruptionBudget) bool {
		return p.Spec.MaxUnavailable != nil && p.Spec.MaxUnavailable.IntValue() == 1 &&
			p.Spec.Selector.MatchLabels["app.kubernetes.io/name"] == s.Spec.Selector.MatchLabels["app.kubernetes.io/name"]
	}) {
		t.Errorf("%s: no PodDisruptionBudget maxUnavailable 1", s.Name)
	}
	keys := map[string]bool{}
	for _, c := range s.Spec.Template.Spec.TopologySpreadConstraints {
		keys[c.TopologyKey] = true
	}
	if !keys["topology.kubernetes.io/zone"] || !keys["kubernetes.io/hostname"] {
		t.Errorf("%s: must spread over zones and nodes, got %v", s.Name, keys)
	}
	psc := s.Spec.Template.Spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		t.Errorf("%s: must run as non-root", s.Name)
	}
	if !slices.ContainsFunc(s.Spec.Template.Spec.Containers[0].Env, func(e corev1.EnvVar) bool {
		return e.Name == "POD_NAME" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name"
	}) {
		t.Errorf("%s: POD_NAME (the default peer_name) must come from metadata.name", s.Name)
	}
	checkContainer(t, s.Spec.Template.Spec.Containers[0])
}

// checkConfigs lays out the ConfigMap volumes of spec as the kubelet
// would mount them, in a temp dir, and runs `copenhagen check config` on
// the --config the container is started with.
func checkConfigs(t *testing.T, r rendered, spec *corev1.PodSpec) {
	t.Helper()
	root := t.TempDir()
	c := spec.Containers[0]
	i := slices.Index(c.Args, "--config")
	if i < 0 || i+1 >= len(c.Args) {
		t.Fatalf("args %v: no --config", c.Args)
	}
	mounted := false
	write := func(cmName, dir string) {
		cm, ok := r.configMaps[cmName]
		if !ok {
			t.Fatalf("ConfigMap %s is not rendered", cmName)
		}
		for k, v := range cm.Data {
			p := filepath.Join(root, dir, k)
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, m := range c.VolumeMounts {
		for _, v := range spec.Volumes {
			if v.Name != m.Name {
				continue
			}
			switch {
			case v.ConfigMap != nil:
				write(v.ConfigMap.Name, m.MountPath)
			case v.Projected != nil:
				for _, s := range v.Projected.Sources {
					if s.ConfigMap == nil {
						t.Fatalf("volume %s: only ConfigMap sources are laid out by this test", v.Name)
					}
					write(s.ConfigMap.Name, m.MountPath)
				}
			default:
				continue
			}
			if strings.HasPrefix(c.Args[i+1], m.MountPath+"/") {
				mounted = true
			}
		}
	}
	if !mounted {
		t.Fatalf("--config %s is not in a mounted ConfigMap", c.Args[i+1])
	}
	file := filepath.Join(root, c.Args[i+1])
	out, errs, code := cli(t, "check", "config", file)
	if code != 0 {
		t.Fatalf("check config %s: %s%s\n%s", c.Args[i+1], out, errs, readFile(t, file))
	}
	// Everything it writes is on a volume (the root file system is
	// read-only).
	cfg, err := config.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	writable := func(p string) bool {
		for _, m := range c.VolumeMounts {
			if !m.ReadOnly && strings.HasPrefix(path.Clean(p)+"/", m.MountPath+"/") {
				return true
			}
		}
		return false
	}
	for key, p := range map[string]string{
		"storage.path":    string(cfg.Storage.Path),
		"statsd.unixgram": string(cfg.StatsD.Unixgram),
		"alerting.data_dir": func() string {
			if cfg.Alerting.ConfigFile == "" {
				return ""
			}
			return alertingDataDir(cfg)
		}(),
		"logs.positions_file": func() string {
			if cfg.Loki.URL == "" { // no log shipping, no positions
				return ""
			}
			return string(cfg.Logs.PositionsFile)
		}(),
	} {
		if p != "" && !writable(p) {
			t.Errorf("%s = %s is not on a writable volume", key, p)
		}
	}
}

func readFile(t *testing.T, p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}
