// Package deploy_test checks what deploy/ and the Dockerfile ship: the
// Kubernetes manifests against the CLI they run, and the image as a
// real container under docker.
package deploy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/wasmcluster/wasmcluster/internal/testwasm"
)

// manifest is the part of a Kubernetes object the checks read.
type manifest struct {
	Kind     string
	Metadata struct{ Name string }
	Spec     struct {
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		}
		Template struct {
			Metadata struct{ Labels map[string]string }
			Spec     struct {
				TerminationGracePeriodSeconds int `yaml:"terminationGracePeriodSeconds"`
				Containers                    []container
			}
		}
		Ports []struct {
			TargetPort string `yaml:"targetPort"`
		}
		ScaleTargetRef struct{ Kind, Name string } `yaml:"scaleTargetRef"`
	}
}

type container struct {
	Image string
	Args  []string
	Ports []struct {
		Name          string
		ContainerPort int `yaml:"containerPort"`
	}
	Resources struct {
		Requests struct{ CPU string }
	}
	ReadinessProbe probe `yaml:"readinessProbe"`
	LivenessProbe  probe `yaml:"livenessProbe"`
	Lifecycle      struct {
		PreStop struct {
			Sleep struct{ Seconds int }
		} `yaml:"preStop"`
	}
}

type probe struct {
	HTTPGet struct {
		Path string
		Port string
	} `yaml:"httpGet"`
}

func readManifests(t *testing.T) map[string]manifest {
	t.Helper()
	files, err := filepath.Glob("kubernetes/*.yaml")
	require.NoError(t, err)
	byKind := map[string]manifest{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		var m manifest
		require.NoError(t, yaml.Unmarshal(b, &m), f)
		byKind[m.Kind] = m
	}
	return byKind
}

// serveFlags lists the flags "wasmcluster serve --help" documents.
func serveFlags(t *testing.T) map[string]bool {
	out, err := exec.Command("go", "run", "../cmd/wasmcluster", "serve", "--help").Output()
	require.NoError(t, err)
	flags := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^  -([a-z-]+)`).FindAllStringSubmatch(string(out), -1) {
		flags[m[1]] = true
	}
	require.Contains(t, flags, "drain-timeout", "the help lists flags:\n%s", out)
	return flags
}

func TestManifestsMatchTheCLI(t *testing.T) {
	ms := readManifests(t)
	for _, kind := range []string{"Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler"} {
		require.Contains(t, ms, kind)
	}
	dep := ms["Deployment"]
	require.Len(t, dep.Spec.Template.Spec.Containers, 1)
	c := dep.Spec.Template.Spec.Containers[0]
	require.NotEmpty(t, c.Args)
	assert.Equal(t, "serve", c.Args[0])

	known := serveFlags(t)
	values := map[string]string{}
	for _, arg := range c.Args[1:] {
		if !strings.HasPrefix(arg, "-") {
			continue
		}
		name, value, _ := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		assert.True(t, known[name], "the Deployment passes --%s, which serve does not have", name)
		values[name] = value
	}
	ports := map[string]int{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	_, adminPort, _ := strings.Cut(values["admin"], ":")
	_, listenPort, _ := strings.Cut(values["listen"], ":")
	assert.Equal(t, adminPort, strconv.Itoa(ports["admin"]), "the admin port is --admin's")
	assert.Equal(t, listenPort, strconv.Itoa(ports["http"]), "the http port is --listen's")
	assert.Equal(t, "/readyz", c.ReadinessProbe.HTTPGet.Path)
	assert.Equal(t, "admin", c.ReadinessProbe.HTTPGet.Port)
	assert.Equal(t, "/healthz", c.LivenessProbe.HTTPGet.Path)
	assert.Equal(t, "admin", c.LivenessProbe.HTTPGet.Port)
	assert.Equal(t, values["workers"], c.Resources.Requests.CPU, "a CPU per worker")

	drain, err := time.ParseDuration(values["drain-timeout"])
	require.NoError(t, err)
	grace := time.Duration(dep.Spec.Template.Spec.TerminationGracePeriodSeconds) * time.Second
	preStop := time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
	assert.Greater(t, grace, preStop+drain, "the grace period covers the preStop pause and the drain")

	assert.Equal(t, dep.Spec.Selector.MatchLabels, ms["PodDisruptionBudget"].Spec.Selector.MatchLabels)
	assert.Subset(t, dep.Spec.Template.Metadata.Labels, dep.Spec.Selector.MatchLabels)
	assert.Equal(t, "http", ms["Service"].Spec.Ports[0].TargetPort)
	hpa := ms["HorizontalPodAutoscaler"].Spec.ScaleTargetRef
	assert.Equal(t, []string{"Deployment", dep.Metadata.Name}, []string{hpa.Kind, hpa.Name})
	assert.Equal(t, "wasmcluster:latest", c.Image)
}

// requireDocker returns once docker answers, or skips (fails under CI,
// where .ci/run starts dockerd).
func requireDocker(t *testing.T) {
	t.Helper()
	testwasm.Require(t, "docker")
	if out, err := exec.Command("docker", "info").CombinedOutput(); err != nil {
		msg := "docker does not answer (start dockerd): " + strings.TrimSpace(string(out))
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}
