// Package helm holds the Hearth chart's checks: every values file lints and renders, and every object
// rendered decodes strictly (unknown fields are errors) into the Kubernetes API's own types, or, for
// the two custom resources, into their fields as KEDA's and the Prometheus operator's CRDs define them.
package helm

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// required are the values every install must give.
var required = []string{
	"accessURL=https://hearth.example.com",
	"postgres.existingSecret=hearth-postgres",
	"secretKey.existingSecret=hearth-secret-key",
	"provisioner.pskSecret=hearth-psk",
}

// everything turns on what is off by default.
var everything = []string{
	"wildcardAccessURL=*.apps.example.com", "ingress.tls.enabled=true", "ingress.tls.secretName=hearth-tls",
	"ingress.className=nginx", "metrics.serviceMonitor.enabled=true", "provisioner.tags.region=eu",
	"provisioner.tags.os=linux", "provisioner.autoscaling.enabled=true",
}

func helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("go", append([]string{"tool", "helm"}, args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if err != nil {
		return out.String() + errOut.String(), err
	}
	return out.String(), nil
}

func sets(values []string) []string {
	var args []string
	for _, v := range values {
		args = append(args, "--set", v)
	}
	return args
}

// scaledObject is KEDA's keda.sh/v1alpha1 ScaledObject, the fields the chart may set.
type scaledObject struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   metav1.ObjectMeta `json:"metadata"`
	Spec       struct {
		ScaleTargetRef struct {
			Name string `json:"name"`
		} `json:"scaleTargetRef"`
		MinReplicaCount *int32 `json:"minReplicaCount"`
		MaxReplicaCount *int32 `json:"maxReplicaCount"`
		PollingInterval *int32 `json:"pollingInterval"`
		CooldownPeriod  *int32 `json:"cooldownPeriod"`
		Triggers        []struct {
			Type     string            `json:"type"`
			Metadata map[string]string `json:"metadata"`
		} `json:"triggers"`
	} `json:"spec"`
}

// serviceMonitor is the Prometheus operator's monitoring.coreos.com/v1 ServiceMonitor, the fields
// the chart may set.
type serviceMonitor struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   metav1.ObjectMeta `json:"metadata"`
	Spec       struct {
		Selector  metav1.LabelSelector `json:"selector"`
		Endpoints []struct {
			Port     string `json:"port"`
			Path     string `json:"path"`
			Interval string `json:"interval"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// decode reads every object of a rendered chart strictly into its type.
func decode(t *testing.T, rendered string) map[string][]any {
	t.Helper()
	objects := map[string][]any{}
	for _, doc := range strings.Split(rendered, "\n---") {
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		require.NoError(t, yaml.Unmarshal([]byte(doc), &head))
		if head.Kind == "" {
			continue // comments only
		}
		var obj any
		switch head.APIVersion + " " + head.Kind {
		case "apps/v1 Deployment":
			obj = &appsv1.Deployment{}
		case "v1 Service":
			obj = &corev1.Service{}
		case "networking.k8s.io/v1 Ingress":
			obj = &networkingv1.Ingress{}
		case "networking.k8s.io/v1 NetworkPolicy":
			obj = &networkingv1.NetworkPolicy{}
		case "policy/v1 PodDisruptionBudget":
			obj = &policyv1.PodDisruptionBudget{}
		case "keda.sh/v1alpha1 ScaledObject":
			obj = &scaledObject{}
		case "monitoring.coreos.com/v1 ServiceMonitor":
			obj = &serviceMonitor{}
		default:
			t.Fatalf("the chart renders %s %s, which this test does not know: add its type", head.APIVersion, head.Kind)
		}
		require.NoError(t, yaml.UnmarshalStrict([]byte(doc), obj), "%s %s:\n%s", head.APIVersion, head.Kind, doc)
		objects[head.Kind] = append(objects[head.Kind], obj)
	}
	return objects
}

// Every values file (the defaults and the reference architectures), with everything off and with
// everything on, lints and renders, and every object decodes strictly.
func TestEveryValuesFileRendersValidObjects(t *testing.T) {
	files, err := filepath.Glob("hearth/values-*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	files = append([]string{""}, files...)
	for _, f := range files {
		for _, extra := range [][]string{nil, everything} {
			args := sets(append(append([]string{}, required...), extra...))
			if f != "" {
				args = append(args, "-f", f)
			}
			out, err := helm(t, append([]string{"lint", "hearth", "--strict"}, args...)...)
			require.NoError(t, err, "helm lint with %s %v: %s", f, extra, out)
			out, err = helm(t, append([]string{"template", "hearth", "hearth"}, args...)...)
			require.NoError(t, err, "helm template with %s %v: %s", f, extra, out)
			objects := decode(t, out)

			var server, worker *appsv1.Deployment
			for _, d := range objects["Deployment"] {
				d := d.(*appsv1.Deployment)
				switch d.Labels["app.kubernetes.io/component"] {
				case "server":
					server = d
				case "provisioner":
					worker = d
				}
			}
			require.NotNil(t, server, f)
			require.NotNil(t, worker, f)
			c := server.Spec.Template.Spec.Containers[0]
			require.Equal(t, "/api/v2/health", c.ReadinessProbe.HTTPGet.Path)
			require.True(t, *c.SecurityContext.ReadOnlyRootFilesystem)
			require.Contains(t, c.Args, "--provisioners=0", "no built-in workers: the server image has no Terraform")
			require.Len(t, objects["PodDisruptionBudget"], 1)
			require.Len(t, objects["Service"], 1)
			require.Len(t, objects["NetworkPolicy"], 2)
			if extra != nil {
				require.Len(t, objects["ScaledObject"], 1)
				so := objects["ScaledObject"][0].(*scaledObject)
				require.Equal(t, worker.Name, so.Spec.ScaleTargetRef.Name)
				require.Contains(t, so.Spec.Triggers[0].Metadata["query"], `tags="os=linux,region=eu"`, "the gauge's label for the workers' tags")
				require.Nil(t, worker.Spec.Replicas, "KEDA owns the workers' replicas")
				require.Len(t, objects["ServiceMonitor"], 1)
				ing := objects["Ingress"][0].(*networkingv1.Ingress)
				require.Equal(t, "*.apps.example.com", ing.Spec.Rules[1].Host, "the wildcard apps host")
			}
		}
	}
}

// Values that cannot work fail the render with a message naming the value.
func TestValuesThatCannotWorkAreNamed(t *testing.T) {
	without := func(name string) []string {
		var out []string
		for _, v := range required {
			if !strings.HasPrefix(v, name+"=") {
				out = append(out, v)
			}
		}
		return out
	}
	for value, extra := range map[string][]string{
		"accessURL":                    without("accessURL"),
		"postgres.existingSecret":      without("postgres.existingSecret"),
		"secretKey.existingSecret":     without("secretKey.existingSecret"),
		"provisioner.pskSecret":        without("provisioner.pskSecret"),
		"server.replicas":              append(append([]string{}, required...), "server.replicas=0"),
		"ingress.tls.secretName":       append(append([]string{}, required...), "ingress.tls.enabled=true"),
		"accessURL \"hearth.example\"": append(without("accessURL"), "accessURL=hearth.example"),
	} {
		out, err := helm(t, append([]string{"template", "hearth", "hearth"}, sets(extra)...)...)
		require.Error(t, err, value)
		require.Contains(t, out, strings.Split(value, " ")[0], "the render names %s", value)
	}
}

func TestMain(m *testing.M) {
	// The chart is rendered from this directory; go tool helm builds on first use.
	os.Exit(m.Run())
}
