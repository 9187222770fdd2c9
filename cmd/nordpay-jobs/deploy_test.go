package main

// The deployment files (deploy/kubernetes, deploy/systemd) checked against the real command
// tree, configuration and admin server, so that a renamed command or flag, a setting that no
// longer validates, or a probe on a path serve does not serve fails here rather than in a
// cluster. Nothing is run: command lines are parsed as Run parses them and the configuration
// is loaded as the root command loads it.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/nordpay/nordpay-jobs/config"
	"github.com/nordpay/nordpay-jobs/db"
	"github.com/nordpay/nordpay-jobs/jobs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
)

const (
	deployK8sDir      = "../../deploy/kubernetes"
	deploySystemdUnit = "../../deploy/systemd/nordpay-jobs.service"
	repoRoot          = "../.."
	exampleConfig     = "config/nordpay-jobs.example.yaml" // relative to repoRoot
)

// deploySecrets stand in for the Secret (Kubernetes) or EnvironmentFile (systemd) values.
var deploySecrets = map[string]string{
	config.EnvDatabaseURL: "postgres://nordpay:dummy@db.invalid:5432/nordpay?sslmode=verify-full",
	config.EnvAPIKey:      "dummy-api-key",
}

// parsedCommand is one of our command lines parsed as Run parses it, with the configuration
// the root command would load for it; nothing ran.
type parsedCommand struct {
	m    *Main
	cmd  *cobra.Command
	args []string // the positional arguments
}

func (p *parsedCommand) path() string { return p.cmd.CommandPath() }

// parseCommandLine checks argv (without the program name) against the command tree: the
// subcommand path exists and is a command rather than a group, every flag is defined on it
// and parses, the positional arguments pass the command's own check, and the configuration
// (defaults, the file, the environment from getenv, the flags) loads and validates.
func parseCommandLine(argv []string, getenv func(string) string) (*parsedCommand, error) {
	m := &Main{Stdio: Stdio{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard}, Now: time.Now, Getenv: getenv}
	root := newRootCommand(m)
	cmd, rest, err := root.Find(argv)
	if err != nil {
		return nil, fmt.Errorf("%q: %v", argv, err)
	}
	if cmd.Annotations[groupAnnotation] != "" && len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		// A mistyped subcommand, before its flags confuse the group's flag parsing.
		return nil, fmt.Errorf("%q: %v", argv, unknownSubcommand(cmd, rest[:1]))
	}
	if err := cmd.ParseFlags(rest); err != nil {
		return nil, fmt.Errorf("%q: %s: %v", argv, cmd.CommandPath(), err)
	}
	args := cmd.Flags().Args()
	if err := cmd.ValidateArgs(args); err != nil {
		return nil, fmt.Errorf("%q: %s: %v", argv, cmd.CommandPath(), err)
	}
	if cmd.Annotations[groupAnnotation] != "" || !cmd.Runnable() {
		return nil, fmt.Errorf("%q: %s only groups commands: it prints its help and exits", argv, cmd.CommandPath())
	}
	if err := root.PersistentPreRunE(cmd, args); err != nil {
		return nil, fmt.Errorf("%q: loading the configuration: %v", argv, err)
	}
	p := &parsedCommand{m: m, cmd: cmd, args: args}
	if p.path() == "nordpay-jobs serve" && cmd.Flags().Changed("admin-addr") {
		// As serve's RunE applies it.
		v := cmd.Flags().Lookup("admin-addr").Value.String()
		m.Config.Set("serve.admin_addr", "flag --admin-addr", func(c *config.Config) { c.Serve.AdminAddr = v })
		if err := m.Config.Validate(); err != nil {
			return nil, fmt.Errorf("%q: %v", argv, err)
		}
	}
	if err := m.checkSchedules(); err != nil {
		return nil, fmt.Errorf("%q: %v", argv, err)
	}
	// What the deployed commands need from the environment before they do anything.
	switch p.path() {
	case "nordpay-jobs migrate":
		err = m.Config.RequireDatabase()
	case "nordpay-jobs serve", "nordpay-jobs jobs run", "nordpay-jobs jobs backfill", "nordpay-jobs sync":
		err = errors.Join(m.Config.RequireDatabase(), m.Config.RequireAPIKey())
	}
	if err != nil {
		return nil, fmt.Errorf("%q: %v", argv, err)
	}
	if p.path() == "nordpay-jobs jobs run" || p.path() == "nordpay-jobs jobs backfill" {
		if configuredJob(m.Config, args[0]) == nil {
			return nil, fmt.Errorf("%q: no job %q in the configuration", argv, args[0])
		}
	}
	return p, nil
}

func configuredJob(c config.Config, name string) *config.Job {
	for i := range c.Jobs {
		if c.Jobs[i].Name == name {
			return &c.Jobs[i]
		}
	}
	return nil
}

// adminPaths asks the real admin handler (a scheduler with no jobs and a database that is
// never reached) which of paths it serves: anything but 404 and 405 is served.
func adminPaths(t *testing.T, paths ...string) map[string]bool {
	t.Helper()
	conn, err := sqlx.Open(db.DriverName, "postgres://deploy-test@127.0.0.1:1/none?sslmode=disable&connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	s, err := jobs.NewScheduler(jobs.SchedulerOptions{DB: conn, Kinds: jobs.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(adminHandler(s, prometheus.NewRegistry()))
	defer srv.Close()
	served := map[string]bool{}
	for _, p := range paths {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatalf("GET %s: %v", p, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		served[p] = resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed
	}
	return served
}

// adminPort is the port of an admin address; probes from the kubelet reach a pod on its IP,
// so the host must be every interface.
func adminPort(t *testing.T, addr string, inPod bool) int {
	t.Helper()
	if addr == "" {
		t.Fatal("serve.admin_addr is empty: the admin server (probes, /metrics) is off")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("serve.admin_addr %q: %v", addr, err)
	}
	if inPod && host != "" && host != "0.0.0.0" && host != "::" {
		t.Errorf("serve.admin_addr %q listens on %s only: the kubelet's probes and Prometheus reach the pod's IP (use :%s)", addr, host, port)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatalf("serve.admin_addr %q: port: %v", addr, err)
	}
	return n
}

// Kubernetes objects, only the fields checked here.
type (
	k8sMeta struct {
		Name        string            `yaml:"name"`
		Labels      map[string]string `yaml:"labels"`
		Annotations map[string]string `yaml:"annotations"`
	}
	k8sEnvVar struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom *struct {
			SecretKeyRef *struct {
				Name string `yaml:"name"`
				Key  string `yaml:"key"`
			} `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	}
	k8sProbe struct {
		HTTPGet *struct {
			Path string `yaml:"path"`
			Port any    `yaml:"port"`
		} `yaml:"httpGet"`
	}
	k8sContainer struct {
		Name    string      `yaml:"name"`
		Image   string      `yaml:"image"`
		Command []string    `yaml:"command"`
		Args    []string    `yaml:"args"`
		Env     []k8sEnvVar `yaml:"env"`
		Ports   []struct {
			Name          string `yaml:"name"`
			ContainerPort int    `yaml:"containerPort"`
		} `yaml:"ports"`
		ReadinessProbe *k8sProbe `yaml:"readinessProbe"`
		LivenessProbe  *k8sProbe `yaml:"livenessProbe"`
		StartupProbe   *k8sProbe `yaml:"startupProbe"`
		VolumeMounts   []struct {
			Name      string `yaml:"name"`
			MountPath string `yaml:"mountPath"`
			SubPath   string `yaml:"subPath"`
		} `yaml:"volumeMounts"`
	}
	k8sPodTemplate struct {
		Metadata k8sMeta `yaml:"metadata"`
		Spec     struct {
			TerminationGracePeriodSeconds *int           `yaml:"terminationGracePeriodSeconds"`
			InitContainers                []k8sContainer `yaml:"initContainers"`
			Containers                    []k8sContainer `yaml:"containers"`
			Volumes                       []struct {
				Name      string `yaml:"name"`
				ConfigMap *struct {
					Name  string `yaml:"name"`
					Items []struct {
						Key  string `yaml:"key"`
						Path string `yaml:"path"`
					} `yaml:"items"`
				} `yaml:"configMap"`
			} `yaml:"volumes"`
		} `yaml:"spec"`
	}
	k8sSelector struct {
		MatchLabels map[string]string `yaml:"matchLabels"`
	}
	k8sDoc struct {
		file string
		node *yaml.Node

		APIVersion string            `yaml:"apiVersion"`
		Kind       string            `yaml:"kind"`
		Metadata   k8sMeta           `yaml:"metadata"`
		Data       map[string]string `yaml:"data"`      // ConfigMap
		Resources  []string          `yaml:"resources"` // Kustomization
	}
	k8sDeployment struct {
		Spec struct {
			Selector k8sSelector    `yaml:"selector"`
			Template k8sPodTemplate `yaml:"template"`
		} `yaml:"spec"`
	}
	k8sCronJob struct {
		Spec struct {
			Schedule    string `yaml:"schedule"`
			TimeZone    string `yaml:"timeZone"`
			JobTemplate struct {
				Spec struct {
					ActiveDeadlineSeconds *int           `yaml:"activeDeadlineSeconds"`
					Template              k8sPodTemplate `yaml:"template"`
				} `yaml:"spec"`
			} `yaml:"jobTemplate"`
		} `yaml:"spec"`
	}
	k8sService struct {
		Spec struct {
			Selector map[string]string `yaml:"selector"`
			Ports    []struct {
				Name       string `yaml:"name"`
				Port       int    `yaml:"port"`
				TargetPort any    `yaml:"targetPort"`
			} `yaml:"ports"`
		} `yaml:"spec"`
	}
	k8sPDB struct {
		Spec struct {
			Selector k8sSelector `yaml:"selector"`
		} `yaml:"spec"`
	}
)

// readK8sDocs parses every YAML document of every .yaml file in dir.
func readK8sDocs(t *testing.T, dir string) (docs []*k8sDoc, files []string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || (!strings.HasSuffix(e.Name(), ".yaml") && !strings.HasSuffix(e.Name(), ".yml")) {
			continue
		}
		files = append(files, e.Name())
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			var n yaml.Node
			if err := dec.Decode(&n); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", e.Name(), err)
			}
			d := &k8sDoc{file: e.Name(), node: &n}
			if err := n.Decode(d); err != nil {
				t.Fatalf("%s: %v", e.Name(), err)
			}
			if d.Kind == "" || d.APIVersion == "" {
				t.Errorf("%s: a document without kind or apiVersion", e.Name())
				continue
			}
			docs = append(docs, d)
		}
	}
	return docs, files
}

func decodeDoc(t *testing.T, d *k8sDoc, v any) {
	t.Helper()
	if err := d.node.Decode(v); err != nil {
		t.Fatalf("%s: %s %s: %v", d.file, d.Kind, d.Metadata.Name, err)
	}
}

// podCommand is a nordpay-jobs container of a pod template, its command line parsed.
type podCommand struct {
	where     string
	container k8sContainer
	parsed    *parsedCommand
}

// checkPod checks the nordpay-jobs containers of a pod template: their command lines, with
// the environment and configuration file they would get.
func checkPod(t *testing.T, where string, pod k8sPodTemplate, configMaps map[string]map[string]string) []podCommand {
	t.Helper()
	var out []podCommand
	for _, c := range append(slices.Clone(pod.Spec.InitContainers), pod.Spec.Containers...) {
		where := fmt.Sprintf("%s container %s", where, c.Name)
		var argv []string
		switch {
		case len(c.Command) > 0 && path.Base(c.Command[0]) == "nordpay-jobs":
			argv = append(slices.Clone(c.Command[1:]), c.Args...)
		case len(c.Command) == 0 && strings.Contains(c.Image, "nordpay-jobs"):
			argv = slices.Clone(c.Args) // the image's entrypoint is nordpay-jobs
		default:
			continue
		}
		env := map[string]string{}
		for _, e := range c.Env {
			switch {
			case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
				ref := e.ValueFrom.SecretKeyRef
				if ref.Name != "nordpay-jobs" || ref.Key != e.Name {
					t.Errorf("%s: env %s comes from secret %s key %s; README.md documents the Secret nordpay-jobs with key %s", where, e.Name, ref.Name, ref.Key, e.Name)
				}
				v, ok := deploySecrets[e.Name]
				if !ok {
					v = "dummy"
				}
				env[e.Name] = v
			default:
				env[e.Name] = e.Value
			}
		}
		if p := env[config.EnvConfigFile]; p != "" {
			env[config.EnvConfigFile] = mountedConfigFile(t, where, p, c, pod, configMaps)
		}
		parsed, err := parseCommandLine(argv, func(k string) string { return env[k] })
		if err != nil {
			t.Errorf("%s: %v", where, err)
			continue
		}
		t.Logf("%s: %s %q: ok", where, parsed.path(), parsed.args)
		out = append(out, podCommand{where: where, container: c, parsed: parsed})
	}
	return out
}

// mountedConfigFile resolves a file path inside a container to the ConfigMap key mounted
// there, writes it to a temporary file and returns its name.
func mountedConfigFile(t *testing.T, where, file string, c k8sContainer, pod k8sPodTemplate, configMaps map[string]map[string]string) string {
	t.Helper()
	for _, vm := range c.VolumeMounts {
		rel, err := filepath.Rel(vm.MountPath, file)
		if vm.SubPath != "" {
			if file != vm.MountPath {
				continue
			}
			rel, err = vm.SubPath, nil
		}
		if err != nil || strings.HasPrefix(rel, "..") {
			continue
		}
		for _, v := range pod.Spec.Volumes {
			if v.Name != vm.Name || v.ConfigMap == nil {
				continue
			}
			data, ok := configMaps[v.ConfigMap.Name]
			if !ok {
				t.Fatalf("%s: %s is mounted from ConfigMap %s, which is not in deploy/kubernetes", where, file, v.ConfigMap.Name)
			}
			key := rel
			for _, it := range v.ConfigMap.Items {
				if it.Path == rel {
					key = it.Key
				}
			}
			content, ok := data[key]
			if !ok {
				t.Fatalf("%s: %s: ConfigMap %s has no key %s", where, file, v.ConfigMap.Name, key)
			}
			tmp := filepath.Join(t.TempDir(), path.Base(file))
			if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			return tmp
		}
	}
	t.Fatalf("%s: %s=%s is not on any ConfigMap volume the container mounts", where, config.EnvConfigFile, file)
	return ""
}

// containerPort resolves a probe's or Service's port (a number or a port name) in c.
func containerPort(c k8sContainer, port any) (int, bool) {
	switch p := port.(type) {
	case int:
		return p, true
	case string:
		if n, err := strconv.Atoi(p); err == nil {
			return n, true
		}
		for _, cp := range c.Ports {
			if cp.Name == p {
				return cp.ContainerPort, true
			}
		}
	}
	return 0, false
}

func labelsMatch(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func TestDeployKubernetes(t *testing.T) {
	docs, files := readK8sDocs(t, deployK8sDir)
	configMaps := map[string]map[string]string{}
	byKind := map[string][]*k8sDoc{}
	for _, d := range docs {
		byKind[d.Kind] = append(byKind[d.Kind], d)
		if d.Kind == "ConfigMap" {
			configMaps[d.Metadata.Name] = d.Data
		}
	}
	for _, kind := range []string{"Kustomization", "ConfigMap", "Deployment", "Service", "CronJob"} {
		if len(byKind[kind]) == 0 {
			t.Fatalf("deploy/kubernetes has no %s", kind)
		}
	}

	t.Run("kustomization", func(t *testing.T) {
		for _, k := range byKind["Kustomization"] {
			var want []string
			for _, f := range files {
				if f != k.file {
					want = append(want, f)
				}
			}
			for _, r := range k.Resources {
				if _, err := os.Stat(filepath.Join(deployK8sDir, r)); err != nil {
					t.Errorf("%s lists %s: %v", k.file, r, err)
				}
			}
			for _, f := range want {
				if !slices.Contains(k.Resources, f) {
					t.Errorf("%s does not list %s: kubectl apply -k would leave it out", k.file, f)
				}
			}
		}
	})

	t.Run("configmap", func(t *testing.T) {
		for name, data := range configMaps {
			for key, content := range data {
				if !strings.HasSuffix(key, ".yaml") && !strings.HasSuffix(key, ".yml") {
					continue
				}
				file := filepath.Join(t.TempDir(), key)
				if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
				cfg, err := config.Load(file, func(k string) string { return deploySecrets[k] })
				if err == nil {
					err = cfg.Validate()
				}
				if err != nil {
					t.Errorf("ConfigMap %s key %s: %v", name, key, err)
					continue
				}
				for _, j := range cfg.Jobs {
					if _, err := jobs.ParseSchedule(j.Schedule, j.TimeZone); err != nil {
						t.Errorf("ConfigMap %s key %s: job %s: %v", name, key, j.Name, err)
					}
				}
			}
		}
	})

	served := adminPaths(t, "/healthz", "/livez", "/metrics", "/no-such-path")
	if served["/no-such-path"] {
		t.Fatal("the admin handler serves /no-such-path: the path check cannot tell")
	}

	// The pods that run serve, for the Service.
	type servePod struct {
		labels    map[string]string
		container k8sContainer
		port      int
	}
	var servePods []servePod

	t.Run("deployment", func(t *testing.T) {
		for _, d := range byKind["Deployment"] {
			var dep k8sDeployment
			decodeDoc(t, d, &dep)
			where := fmt.Sprintf("%s: Deployment %s", d.file, d.Metadata.Name)
			pod := dep.Spec.Template
			if !labelsMatch(dep.Spec.Selector.MatchLabels, pod.Metadata.Labels) {
				t.Errorf("%s: selector %v does not match the pod labels %v", where, dep.Spec.Selector.MatchLabels, pod.Metadata.Labels)
			}
			for _, pc := range checkPod(t, where, pod, configMaps) {
				c, cfg := pc.container, pc.parsed.m.Config
				probes := map[string]*k8sProbe{"readinessProbe": c.ReadinessProbe, "livenessProbe": c.LivenessProbe, "startupProbe": c.StartupProbe}
				if pc.parsed.path() != "nordpay-jobs serve" {
					for kind, p := range probes {
						if p != nil && p.HTTPGet != nil {
							t.Errorf("%s: an HTTP %s, but only serve has an admin server", pc.where, kind)
						}
					}
					continue
				}
				port := adminPort(t, cfg.Serve.AdminAddr, true)
				if !slices.ContainsFunc(c.Ports, func(p struct {
					Name          string `yaml:"name"`
					ContainerPort int    `yaml:"containerPort"`
				}) bool {
					return p.ContainerPort == port
				}) {
					t.Errorf("%s: no containerPort %d (serve.admin_addr %q)", pc.where, port, cfg.Serve.AdminAddr)
				}
				if c.ReadinessProbe == nil || c.LivenessProbe == nil {
					t.Errorf("%s: serve needs a readiness probe (/healthz) and a liveness probe (/livez)", pc.where)
				}
				for kind, p := range probes {
					if p == nil {
						continue
					}
					if p.HTTPGet == nil {
						t.Errorf("%s: %s is not an httpGet probe", pc.where, kind)
						continue
					}
					if !served[p.HTTPGet.Path] {
						t.Errorf("%s: %s on %s, which serve's admin server does not serve", pc.where, kind, p.HTTPGet.Path)
					}
					if n, ok := containerPort(c, p.HTTPGet.Port); !ok || n != port {
						t.Errorf("%s: %s on port %v, but serve.admin_addr is %q", pc.where, kind, p.HTTPGet.Port, cfg.Serve.AdminAddr)
					}
				}
				if c.ReadinessProbe != nil && c.ReadinessProbe.HTTPGet != nil && c.ReadinessProbe.HTTPGet.Path != "/healthz" {
					t.Errorf("%s: readiness on %s; /healthz is the one that checks the database", pc.where, c.ReadinessProbe.HTTPGet.Path)
				}
				if c.LivenessProbe != nil && c.LivenessProbe.HTTPGet != nil && c.LivenessProbe.HTTPGet.Path != "/livez" {
					t.Errorf("%s: liveness on %s; /livez leaves the database out, so an outage does not restart every replica", pc.where, c.LivenessProbe.HTTPGet.Path)
				}
				grace := 30 // Kubernetes' default
				if pod.Spec.TerminationGracePeriodSeconds != nil {
					grace = *pod.Spec.TerminationGracePeriodSeconds
				}
				if time.Duration(grace)*time.Second <= cfg.Serve.ShutdownTimeout.D() {
					t.Errorf("%s: terminationGracePeriodSeconds %d is not above serve.shutdown_timeout %s", where, grace, cfg.Serve.ShutdownTimeout.D())
				}
				servePods = append(servePods, servePod{labels: pod.Metadata.Labels, container: c, port: port})
			}
		}
		if len(servePods) == 0 {
			t.Error("no Deployment runs nordpay-jobs serve")
		}
	})

	t.Run("pdb", func(t *testing.T) {
		for _, d := range byKind["PodDisruptionBudget"] {
			var pdb k8sPDB
			decodeDoc(t, d, &pdb)
			if !slices.ContainsFunc(servePods, func(p servePod) bool { return labelsMatch(pdb.Spec.Selector.MatchLabels, p.labels) }) {
				t.Errorf("%s: PodDisruptionBudget %s selects no serve pod", d.file, d.Metadata.Name)
			}
		}
	})

	t.Run("service", func(t *testing.T) {
		for _, d := range byKind["Service"] {
			var svc k8sService
			decodeDoc(t, d, &svc)
			where := fmt.Sprintf("%s: Service %s", d.file, d.Metadata.Name)
			var selected []servePod
			for _, p := range servePods {
				if labelsMatch(svc.Spec.Selector, p.labels) {
					selected = append(selected, p)
				}
			}
			if len(selected) == 0 {
				t.Errorf("%s: selector %v matches no serve pod", where, svc.Spec.Selector)
				continue
			}
			for _, p := range selected {
				for _, sp := range svc.Spec.Ports {
					target := sp.TargetPort
					if target == nil {
						target = sp.Port
					}
					if n, ok := containerPort(p.container, target); !ok || n != p.port {
						t.Errorf("%s: port %s targets %v, but serve listens on %d", where, sp.Name, target, p.port)
					}
				}
				if a, ok := d.Metadata.Annotations["prometheus.io/port"]; ok && a != strconv.Itoa(p.port) {
					t.Errorf("%s: prometheus.io/port %s, but serve listens on %d", where, a, p.port)
				}
			}
			if a, ok := d.Metadata.Annotations["prometheus.io/path"]; ok && !served[a] {
				t.Errorf("%s: prometheus.io/path %s, which serve's admin server does not serve", where, a)
			}
		}
	})

	t.Run("cronjob", func(t *testing.T) {
		for _, d := range byKind["CronJob"] {
			var cj k8sCronJob
			decodeDoc(t, d, &cj)
			where := fmt.Sprintf("%s: CronJob %s", d.file, d.Metadata.Name)
			tz := cj.Spec.TimeZone
			if tz == "" {
				t.Errorf("%s: no timeZone: the schedule would be read in the controller manager's zone", where)
			}
			sched, err := jobs.ParseSchedule(cj.Spec.Schedule, tz)
			if err != nil {
				t.Errorf("%s: %v", where, err)
			}
			cmds := checkPod(t, where, cj.Spec.JobTemplate.Spec.Template, configMaps)
			if len(cmds) == 0 {
				t.Errorf("%s: runs no nordpay-jobs command line that parses", where)
			}
			for _, pc := range cmds {
				if pc.parsed.path() != "nordpay-jobs jobs run" || sched == nil {
					continue
				}
				j := configuredJob(pc.parsed.m.Config, pc.parsed.args[0])
				// The job's own limits must end a run, not the pod's deadline: every attempt
				// may take the job's timeout, with its backoffs between.
				if dl := cj.Spec.JobTemplate.Spec.ActiveDeadlineSeconds; dl != nil {
					worst := time.Duration(j.Retries.MaxAttempts) * j.Timeout.D()
					for a := 1; a < j.Retries.MaxAttempts; a++ {
						worst += retryBackoff(j.Retries.Backoff.D(), a)
					}
					if time.Duration(*dl)*time.Second <= worst {
						t.Errorf("%s: activeDeadlineSeconds %d cuts job %s short: %d attempts of up to %s with their backoffs take up to %s",
							where, *dl, j.Name, j.Retries.MaxAttempts, j.Timeout.D(), worst)
					}
				}
				if pc.parsed.cmd.Flags().Changed("slot") {
					continue
				}
				js, err := jobs.ParseSchedule(j.Schedule, j.TimeZone)
				if err != nil {
					t.Errorf("%s: job %s: %v", pc.where, j.Name, err)
					continue
				}
				// jobs run without --slot runs the job's latest slot due: the CronJob must
				// fire on the job's own slots, or it runs late or not at all.
				a, b := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
				for range 500 {
					a, b = sched.Next(a), js.Next(b)
					if !a.Equal(b) {
						t.Errorf("%s: the CronJob fires at %s (%q in %s) where job %s's next slot is %s (%q in %s)",
							pc.where, a, cj.Spec.Schedule, tz, j.Name, b, j.Schedule, j.TimeZone)
						break
					}
				}
			}
		}
	})
}

// retryBackoff is the wait after failed attempt n, as the scheduler documents it
// (retries.backoff): the backoff, doubled after each next failure, at most an hour.
func retryBackoff(base time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, max(base, time.Hour))
}

// systemdUnit is a parsed unit file: the header comment and section.key -> values.
type systemdUnit struct {
	header []string
	values map[string][]string
}

func readSystemdUnit(t *testing.T, file string) systemdUnit {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := systemdUnit{values: map[string][]string{}}
	section, inHeader, cont := "", true, ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if cont != "" {
			line, cont = cont+" "+line, ""
		}
		switch {
		case strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
			if inHeader {
				u.header = append(u.header, strings.TrimPrefix(line, "#"))
			}
			continue
		case line == "":
			continue
		}
		inHeader = false
		if strings.HasSuffix(line, `\`) {
			cont = strings.TrimSuffix(line, `\`)
			continue
		}
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = strings.Trim(line, "[]")
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Errorf("%s: %q is not KEY=VALUE", file, line)
			continue
		}
		key := section + "." + strings.TrimSpace(k)
		u.values[key] = append(u.values[key], strings.TrimSpace(v))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return u
}

// splitSystemd splits a command line or an assignment list as systemd does: on blanks, with
// "double" and 'single' quotes.
func splitSystemd(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord, quote := false, rune(0)
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words, inWord = append(words, cur.String()), false
				cur.Reset()
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated quote in %q", s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// systemdSeconds reads a systemd time span: "90", "90s", "1min 30s", "2m".
func systemdSeconds(s string) (time.Duration, error) {
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	r := strings.NewReplacer(" ", "", "min", "m", "sec", "s", "hr", "h")
	return time.ParseDuration(r.Replace(s))
}

// installLines reads the `install [-m MODE] [-d] SRC DST` lines of a header: DST -> SRC
// (DST/ for a directory destination keeps SRC's base name).
func installLines(header []string) map[string]string {
	out := map[string]string{}
	for _, line := range header {
		f := strings.Fields(strings.TrimSpace(line))
		if len(f) == 0 || f[0] != "install" {
			continue
		}
		var ops []string
		for i := 1; i < len(f); i++ {
			switch {
			case f[i] == "#":
				i = len(f)
			case f[i] == "-m":
				i++
			case strings.HasPrefix(f[i], "-"):
			default:
				ops = append(ops, f[i])
			}
		}
		if len(ops) == 2 {
			dst := ops[1]
			if strings.HasSuffix(dst, "/") {
				dst += path.Base(ops[0])
			}
			out[dst] = ops[0]
		}
	}
	return out
}

func TestDeploySystemd(t *testing.T) {
	u := readSystemdUnit(t, deploySystemdUnit)
	installs := installLines(u.header)
	if len(installs) == 0 {
		t.Fatal("the unit's header has no install instructions")
	}
	for dst, src := range installs {
		if src == "/dev/null" {
			continue
		}
		if _, err := os.Stat(filepath.Join(repoRoot, src)); err != nil && !strings.HasPrefix(src, "bin/") {
			t.Errorf("header: install %s %s: %v", src, dst, err)
		}
	}
	if src, ok := installs["/etc/systemd/system/nordpay-jobs.service"]; !ok || src != "deploy/systemd/nordpay-jobs.service" {
		t.Errorf("header: the unit is not installed from deploy/systemd/nordpay-jobs.service to /etc/systemd/system/ (%v)", installs)
	}

	env := map[string]string{}
	for _, v := range u.values["Service.Environment"] {
		words, err := splitSystemd(v)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range words {
			k, v, ok := strings.Cut(w, "=")
			if !ok {
				t.Errorf("Environment=%s: %q is not NAME=VALUE", v, w)
			}
			env[k] = v
		}
	}
	// The EnvironmentFile: installed by the header, which says what goes in it.
	for _, f := range u.values["Service.EnvironmentFile"] {
		f = strings.TrimPrefix(f, "-")
		if _, ok := installs[f]; !ok {
			t.Errorf("EnvironmentFile=%s is not among the files the header installs", f)
		}
	}
	for name, v := range deploySecrets {
		if !slices.ContainsFunc(u.header, func(l string) bool { return strings.HasPrefix(strings.TrimSpace(l), name+"=") }) {
			t.Errorf("the header does not say to set %s in the EnvironmentFile", name)
		}
		if _, ok := env[name]; ok {
			t.Errorf("Environment=%s in the world-readable unit: secrets belong in the EnvironmentFile", name)
		}
		env[name] = v
	}
	cfgPath := env[config.EnvConfigFile]
	if cfgPath == "" {
		t.Fatalf("no Environment=%s", config.EnvConfigFile)
	}
	src, ok := installs[cfgPath]
	if !ok {
		t.Fatalf("Environment=%s=%s, but the header installs the configuration elsewhere (%v)", config.EnvConfigFile, cfgPath, installs)
	}
	env[config.EnvConfigFile] = filepath.Join(repoRoot, src)
	binPath := ""
	for dst, src := range installs {
		if src == "bin/nordpay-jobs" {
			binPath = dst
		}
	}

	var serve *parsedCommand
	for _, key := range []string{"Service.ExecStartPre", "Service.ExecStart"} {
		if key == "Service.ExecStart" && len(u.values[key]) != 1 {
			t.Errorf("%d ExecStart= lines, want 1", len(u.values[key]))
		}
		for _, line := range u.values[key] {
			words, err := splitSystemd(line)
			if err != nil || len(words) == 0 {
				t.Errorf("%s=%s: %v", key, line, err)
				continue
			}
			bin := strings.TrimLeft(words[0], "-@+!:|")
			if path.Base(bin) != "nordpay-jobs" {
				continue
			}
			if bin != binPath {
				t.Errorf("%s=%s runs %s, but the header installs the binary as %s", key, line, bin, binPath)
			}
			p, err := parseCommandLine(words[1:], func(k string) string { return env[k] })
			if err != nil {
				t.Errorf("%s: %v", key, err)
				continue
			}
			t.Logf("%s: %s %q: ok", key, p.path(), p.args)
			if p.path() == "nordpay-jobs serve" {
				serve = p
			}
		}
	}
	if serve == nil {
		t.Fatal("ExecStart does not run nordpay-jobs serve")
	}
	cfg := serve.m.Config

	stop := u.values["Service.TimeoutStopSec"]
	if len(stop) == 0 {
		t.Errorf("no TimeoutStopSec: systemd's default (90s) must be kept above serve.shutdown_timeout %s explicitly", cfg.Serve.ShutdownTimeout.D())
	} else if d, err := systemdSeconds(stop[len(stop)-1]); err != nil {
		t.Errorf("TimeoutStopSec=%s: %v", stop[len(stop)-1], err)
	} else if d <= cfg.Serve.ShutdownTimeout.D() {
		t.Errorf("TimeoutStopSec=%s is not above serve.shutdown_timeout %s (%s)", stop[len(stop)-1], cfg.Serve.ShutdownTimeout.D(), src)
	}

	// The admin URLs the header tells people to curl.
	port := adminPort(t, cfg.Serve.AdminAddr, false)
	host, _, _ := net.SplitHostPort(cfg.Serve.AdminAddr)
	urls := regexp.MustCompile(`curl (?:https?://)?([^\s/,]+)(/[\w/.-]*[\w/])`).FindAllStringSubmatch(strings.Join(u.header, "\n"), -1)
	var paths []string
	for _, m := range urls {
		paths = append(paths, m[2])
	}
	served := adminPaths(t, paths...)
	for _, m := range urls {
		h, p, err := net.SplitHostPort(m[1])
		if err != nil || p != strconv.Itoa(port) || (host != "" && h != host) {
			t.Errorf("header: curl %s%s, but serve.admin_addr is %q", m[1], m[2], cfg.Serve.AdminAddr)
		}
		if !served[m[2]] {
			t.Errorf("header: curl %s%s, which serve's admin server does not serve", m[1], m[2])
		}
	}

	// systemd's own check, offline, when the machine has it: the binary path is pointed at
	// the test binary, since verify wants an executable.
	if sa, err := exec.LookPath("systemd-analyze"); err == nil && binPath != "" {
		data, err := os.ReadFile(deploySystemdUnit)
		if err != nil {
			t.Fatal(err)
		}
		unit := filepath.Join(t.TempDir(), "nordpay-jobs.service")
		if err := os.WriteFile(unit, bytes.ReplaceAll(data, []byte(binPath), []byte(binary)), 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, sa, "verify", unit).CombinedOutput()
		// verify exits 0 on unknown keys and bad values (it ignores them), so any line
		// about the unit fails too.
		if err != nil || bytes.Contains(out, []byte("nordpay-jobs.service")) {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		} else {
			t.Logf("systemd-analyze verify: ok")
		}
	} else {
		t.Logf("systemd-analyze is not installed: systemd's own check left out")
	}
}

// TestDeployExampleConfigCommands checks the commands and flags that the example
// configuration's comments name: `command` in backquotes, and "Flag: --name".
func TestDeployExampleConfigCommands(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, exampleConfig))
	if err != nil {
		t.Fatal(err)
	}
	var comments []string
	for line := range strings.Lines(string(data)) {
		if _, c, ok := strings.Cut(line, "#"); ok {
			comments = append(comments, c)
		}
	}
	text := strings.Join(comments, "\n")
	root := newRootCommand(&Main{})
	var all []*cobra.Command
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		all = append(all, c)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)

	checked := 0
	for _, m := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(text, -1) {
		words := strings.Fields(m[1])
		if len(words) > 0 && words[0] == "nordpay-jobs" {
			words = words[1:]
		}
		var names []string
		for _, w := range words {
			if strings.HasPrefix(w, "-") {
				break
			}
			names = append(names, w)
		}
		if len(names) == 0 {
			continue
		}
		cmd, rest, err := root.Find(words)
		if err == nil {
			err = cmd.ParseFlags(rest)
		}
		if err == nil && cmd.CommandPath() != "nordpay-jobs "+strings.Join(names, " ") {
			err = fmt.Errorf("no such command (the nearest is %s)", cmd.CommandPath())
		}
		if err != nil {
			t.Errorf("%s: `%s`: %v", exampleConfig, m[1], err)
		}
		checked++
	}
	for _, m := range regexp.MustCompile(`Flag: (--[a-z][a-z0-9-]*)`).FindAllStringSubmatch(text, -1) {
		name := strings.TrimPrefix(m[1], "--")
		if !slices.ContainsFunc(all, func(c *cobra.Command) bool {
			return c.Flags().Lookup(name) != nil || c.PersistentFlags().Lookup(name) != nil
		}) {
			t.Errorf("%s: %s: no command has this flag", exampleConfig, m[0])
		}
		checked++
	}
	if checked == 0 {
		t.Fatalf("%s: found no command or flag to check", exampleConfig)
	}
	t.Logf("%d commands and flags checked", checked)
}
