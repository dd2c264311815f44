// Command images builds Hearth's two OCI images without pulling anything: every layer is a tar this
// program writes from files on this machine (the binaries it builds, the CA bundle, Terraform, the
// provider mirror, busybox from Debian's package), on an empty base, with fixed times and owners, so
// the same inputs give the same layers and image IDs.
//
//	hearth-server    hearth (server, proxy, CLI) and hearth-agent, which the server hands to workspaces
//	hearth-provisioner  hearth, Terraform (pinned), the provider mirror and a busybox shell for templates
//
// Each is written as a `docker load` tarball under -out, and loaded into the local engine with -load.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// The user the images run as: not root, and owning only its data directory.
const (
	uid  = 65532
	home = "/home/hearth"
	data = "/var/lib/hearth"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "images:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("images", flag.ContinueOnError)
	out := fs.String("out", ".cache/images", "where the image tarballs are written")
	tag := fs.String("tag", "dev", "the images' tag")
	mirror := fs.String("mirror", ".cache/terraform-mirror", "the provider mirror the provisioner image carries (go tool task providers)")
	terraform := fs.String("terraform", "", "the Terraform binary the provisioner image carries (default: terraform on PATH)")
	terraformVersion := fs.String("terraform-version", "", "the Terraform version the provisioner image pins; a different binary is refused")
	load := fs.Bool("load", false, "load the images into the local Docker engine")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *terraformVersion == "" {
		return errors.New("-terraform-version is required: the provisioner image pins the Terraform it carries")
	}
	epoch := sourceDate(ctx)
	work, err := os.MkdirTemp("", "hearth-images-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	version := gitDescribe(ctx)
	for _, cmd := range []string{"hearth", "hearth-agent"} {
		if err := goBuild(ctx, filepath.Join(work, cmd), "./cmd/"+cmd, version); err != nil {
			return err
		}
	}
	tf, err := pinnedTerraform(ctx, *terraform, *terraformVersion)
	if err != nil {
		return err
	}
	if st, err := os.Stat(*mirror); err != nil || !st.IsDir() {
		return fmt.Errorf("no provider mirror at %s: build it with go tool task providers", *mirror)
	}
	busybox, err := debianBusybox(ctx, work)
	if err != nil {
		return err
	}

	base, err := baseLayer(epoch)
	if err != nil {
		return err
	}
	server := &layer{epoch: epoch}
	server.file("/usr/local/bin/hearth", filepath.Join(work, "hearth"), 0o755)
	server.file("/usr/local/bin/hearth-agent", filepath.Join(work, "hearth-agent"), 0o755)
	images := []struct {
		name   string
		layers []*layer
		config v1.Config
	}{
		{"hearth-server", []*layer{base, server}, v1.Config{
			User:         fmt.Sprintf("%d:%d", uid, uid),
			Entrypoint:   []string{"/usr/local/bin/hearth"},
			Cmd:          []string{"server"},
			WorkingDir:   home,
			ExposedPorts: map[string]struct{}{"3000/tcp": {}},
			Env: []string{"PATH=/usr/local/bin", "HOME=" + home, "HEARTH_DATA_DIR=" + data,
				"HEARTH_HTTP_ADDRESS=0.0.0.0:3000", "HEARTH_PROVISIONERS=0"},
		}},
	}
	worker := &layer{epoch: epoch}
	worker.file("/usr/local/bin/hearth", filepath.Join(work, "hearth"), 0o755)
	worker.file("/usr/local/bin/terraform", tf, 0o755)
	if err := worker.tree("/usr/share/hearth/providers", *mirror); err != nil {
		return err
	}
	shell := &layer{epoch: epoch}
	shell.file("/bin/busybox", busybox, 0o755)
	applets, err := exec.CommandContext(ctx, busybox, "--list").Output()
	if err != nil {
		return fmt.Errorf("busybox --list: %w", err)
	}
	for _, a := range strings.Fields(string(applets)) {
		if a != "busybox" {
			shell.symlink("/bin/"+a, "busybox")
		}
	}
	images = append(images, struct {
		name   string
		layers []*layer
		config v1.Config
	}{"hearth-provisioner", []*layer{base, shell, worker}, v1.Config{
		User:       fmt.Sprintf("%d:%d", uid, uid),
		Entrypoint: []string{"/usr/local/bin/hearth", "provisioner", "start"},
		WorkingDir: home,
		Env: []string{"PATH=/usr/local/bin:/bin", "HOME=" + home, "HEARTH_PROVIDER_MIRROR=/usr/share/hearth/providers",
			"HEARTH_WORK_DIR=" + data + "/provisioner"},
	}})

	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	for _, im := range images {
		img := empty.Image
		for _, l := range im.layers {
			tl, err := l.build()
			if err != nil {
				return err
			}
			if img, err = mutate.AppendLayers(img, tl); err != nil {
				return err
			}
		}
		im.config.Labels = map[string]string{
			"org.opencontainers.image.title":   im.name,
			"org.opencontainers.image.version": version,
			"org.opencontainers.image.source":  "https://github.com/hearthdev/hearth",
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return err
		}
		cf = cf.DeepCopy()
		cf.Config = im.config
		cf.Created = v1.Time{Time: epoch}
		cf.Architecture, cf.OS = "amd64", "linux"
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			return err
		}
		ref, err := name.NewTag(im.name + ":" + *tag)
		if err != nil {
			return err
		}
		path := filepath.Join(*out, im.name+".tar")
		if err := tarball.WriteToFile(path, ref, img); err != nil {
			return err
		}
		size, err := imageSize(img)
		if err != nil {
			return err
		}
		id, _ := img.ConfigName()
		fmt.Fprintf(stdout, "images: %s:%s %.1f MB (%s, %s)\n", im.name, *tag, float64(size)/1e6, id.String()[:19], path)
		if *load {
			if out, err := exec.CommandContext(ctx, "docker", "load", "-i", path).CombinedOutput(); err != nil {
				return fmt.Errorf("docker load %s: %w: %s", path, err, out)
			}
		}
	}
	return nil
}

// imageSize is the uncompressed size of the image's layers: what `docker images` shows.
func imageSize(img v1.Image) (int64, error) {
	layers, err := img.Layers()
	if err != nil {
		return 0, err
	}
	var total int64
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			return 0, err
		}
		m, err := io.Copy(io.Discard, rc)
		_ = rc.Close()
		if err != nil {
			return 0, err
		}
		total += m
	}
	return total, nil
}

// sourceDate is SOURCE_DATE_EPOCH, else the last commit's time, else the Unix epoch: the images'
// creation time and every file's.
func sourceDate(ctx context.Context) time.Time {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		var n int64
		if _, err := fmt.Sscan(s, &n); err == nil {
			return time.Unix(n, 0).UTC()
		}
	}
	if out, err := exec.CommandContext(ctx, "git", "log", "-1", "--format=%ct").Output(); err == nil {
		var n int64
		if _, err := fmt.Sscan(strings.TrimSpace(string(out)), &n); err == nil {
			return time.Unix(n, 0).UTC()
		}
	}
	return time.Unix(0, 0).UTC()
}

func gitDescribe(ctx context.Context) string {
	out, err := exec.CommandContext(ctx, "git", "describe", "--tags", "--always", "--dirty").Output()
	if err != nil {
		return "dev"
	}
	return strings.TrimSpace(string(out))
}

// goBuild builds a static linux/amd64 binary of pkg.
func goBuild(ctx context.Context, out, pkg, version string) error {
	root, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return fmt.Errorf("go list -m: %w", err)
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-C", strings.TrimSpace(string(root)), "-trimpath", "-ldflags",
		"-s -w -X github.com/hearthdev/hearth/internal/buildinfo.version="+version, "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w: %s", pkg, err, b)
	}
	return nil
}

// pinnedTerraform finds Terraform and checks that it is the pinned version.
func pinnedTerraform(ctx context.Context, path, want string) (string, error) {
	if path == "" {
		p, err := exec.LookPath("terraform")
		if err != nil {
			return "", errors.New("terraform not found on PATH: install Terraform " + want + " or pass -terraform")
		}
		path = p
	}
	cmd := exec.CommandContext(ctx, path, "version", "-json")
	cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+os.DevNull, "CHECKPOINT_DISABLE=1")
	raw, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s version: %w", path, err)
	}
	var v struct {
		Version string `json:"terraform_version"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", fmt.Errorf("%s version: %w", path, err)
	}
	if v.Version != want {
		return "", fmt.Errorf("%s is Terraform %s; the provisioner image pins %s: install that one or change TERRAFORM_VERSION in Taskfile.yml", path, v.Version, want)
	}
	return path, nil
}

// debianBusybox fetches busybox-static from Debian's archive (apt, no registry) and returns the
// statically linked binary's path.
func debianBusybox(ctx context.Context, work string) (string, error) {
	dir := filepath.Join(work, "busybox")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	download := exec.CommandContext(ctx, "apt-get", "download", "busybox-static")
	download.Dir = dir
	if out, err := download.CombinedOutput(); err != nil {
		update := exec.CommandContext(ctx, "apt-get", "update", "-qq")
		if uout, uerr := update.CombinedOutput(); uerr != nil {
			return "", fmt.Errorf("apt-get update: %w: %s", uerr, uout)
		}
		download = exec.CommandContext(ctx, "apt-get", "download", "busybox-static")
		download.Dir = dir
		if out2, err := download.CombinedOutput(); err != nil {
			return "", fmt.Errorf("apt-get download busybox-static: %w: %s%s", err, out, out2)
		}
	}
	debs, _ := filepath.Glob(filepath.Join(dir, "busybox-static_*.deb"))
	if len(debs) != 1 {
		return "", errors.New("apt-get download busybox-static left no package")
	}
	if out, err := exec.CommandContext(ctx, "dpkg-deb", "-x", debs[0], filepath.Join(dir, "root")).CombinedOutput(); err != nil {
		return "", fmt.Errorf("dpkg-deb -x: %w: %s", err, out)
	}
	return filepath.Join(dir, "root", "bin", "busybox"), nil
}

// baseLayer is what both images share: the users, the CA bundle, and the directories the user owns.
func baseLayer(epoch time.Time) (*layer, error) {
	l := &layer{epoch: epoch}
	l.content("/etc/passwd", fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nhearth:x:%d:%d:hearth:%s:/sbin/nologin\n", uid, uid, home), 0o644)
	l.content("/etc/group", fmt.Sprintf("root:x:0:\nhearth:x:%d:\n", uid), 0o644)
	l.content("/etc/nsswitch.conf", "hosts: files dns\n", 0o644)
	ca, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	if err != nil {
		return nil, fmt.Errorf("the CA bundle: %w (install ca-certificates)", err)
	}
	l.content("/etc/ssl/certs/ca-certificates.crt", string(ca), 0o644)
	l.dir("/tmp", 0o1777, 0)
	l.dir(home, 0o755, uid)
	l.dir(data, 0o700, uid)
	return l, nil
}
