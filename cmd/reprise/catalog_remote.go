package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/reprise-dev/reprise/host/replay"
)

// The commands here talk to a running server: activation and shadow replay
// change or read the live node, so they go through its API (and its auth
// token) rather than the data directory, which the server holds locked.

// serverFlags adds --server (default: the configured listen address) and
// --token (default: auth.token, that is REPRISE_AUTH_TOKEN or the file).
func serverFlags(cmd *cobra.Command) {
	cmd.Flags().String("server", "", "base URL of the running server (default http://LISTEN from the configuration)")
	cmd.Flags().String("auth-token", "", "bearer token (default auth.token: REPRISE_AUTH_TOKEN or the config file)")
	configFlag(cmd, "auth-token", keyAuthToken)
}

func serverURL(cmd *cobra.Command, v *viper.Viper) (string, error) {
	s, _ := cmd.Flags().GetString("server")
	if s == "" {
		s = "http://" + v.GetString(keyListen)
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("--server %q is not an http(s) URL", s)
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}

// apiProblem is the part of an RFC 9457 problem the commands print.
type apiProblem struct {
	Status   int            `json:"status"`
	Code     string         `json:"code"`
	Title    string         `json:"title"`
	Detail   string         `json:"detail"`
	Problems []string       `json:"problems"`
	Shadow   *replay.Report `json:"shadow"`
}

// callServer posts body (JSON, may be nil) to path and decodes a 2xx answer
// into out; a problem answer becomes an error naming its code and detail,
// after the shadow report it may carry is printed.
func callServer(cmd *cobra.Command, v *viper.Viper, path string, body any, out any) error {
	base, err := serverURL(cmd, v)
	if err != nil {
		return err
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok := v.GetString(keyAuthToken); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("server %s: %w", base, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("server %s: reading the answer: %w", base, err)
	}
	if resp.StatusCode/100 != 2 {
		var p apiProblem
		if json.Unmarshal(raw, &p) != nil || p.Code == "" {
			return fmt.Errorf("server %s answered %s: %s", base, resp.Status, bytes.TrimSpace(raw))
		}
		if p.Shadow != nil {
			fmt.Fprint(cmd.OutOrStdout(), p.Shadow.Text())
		}
		msg := fmt.Sprintf("%s (%s): %s", p.Title, p.Code, p.Detail)
		for _, q := range p.Problems {
			msg += "\n  - " + q
		}
		return &exitError{code: 2, err: fmt.Errorf("%s", msg)}
	}
	return json.Unmarshal(raw, out)
}

// activation mirrors the API's activation answer.
type activation struct {
	Index     uint64 `json:"index"`
	StateHash string `json:"state_hash"`
	Catalog   struct {
		Hash, Name, Version string
	} `json:"catalog"`
	Replaced *struct {
		Hash, Name, Version string
	} `json:"replaced"`
	Migrated bool           `json:"migrated"`
	Fuel     uint64         `json:"transition_fuel"`
	PauseMs  float64        `json:"pause_ms"`
	Shadow   *replay.Report `json:"shadow"`
}

func newCatalogActivateCmd(v *viper.Viper) *cobra.Command {
	var asJSON, requireClean bool
	var shadowRecent uint64
	cmd := &cobra.Command{
		Use:   "activate HASH",
		Short: "Hot-swap the running server to a stored catalog version (rolling back is activating the older one)",
		Long: `Asks the running server to activate the catalog HASH (a full SHA-256 or a
unique prefix of at least 8 hex digits) from its catalog store: an activation
record is appended and the transitions after it run under that catalog. The
state is handed over (migrated if the catalog declares a migration from the
one in force); if the catalog cannot take the state, nothing changes.
With --require-clean-shadow the server first replays the recent WAL under
the catalog and refuses if any record would have come out differently.
Exit code 2 when the server refuses.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := map[string]any{"require_clean_shadow": requireClean, "shadow_recent": shadowRecent}
			var a activation
			if err := callServer(cmd, v, "/v1/catalogs/"+url.PathEscape(args[0])+"/activate", req, &a); err != nil {
				return err
			}
			if asJSON {
				return writeCatalogJSON(cmd.OutOrStdout(), a)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "activated %s@%s (%s) at record %d\n", a.Catalog.Name, a.Catalog.Version, a.Catalog.Hash, a.Index)
			if a.Replaced != nil {
				fmt.Fprintf(w, "replaced  %s@%s (%s)\n", a.Replaced.Name, a.Replaced.Version, a.Replaced.Hash)
			}
			fmt.Fprintf(w, "state hash %s, migrated %t, transition fuel %d, writer paused %.2f ms\n", a.StateHash, a.Migrated, a.Fuel, a.PauseMs)
			return nil
		},
	}
	cmd.Flags().BoolVar(&requireClean, "require-clean-shadow", false, "refuse unless a shadow replay of the recent WAL reproduces every record")
	cmd.Flags().Uint64Var(&shadowRecent, "shadow-recent", 0, "records the required shadow replay covers (0: from the oldest retained snapshot)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the server's answer as JSON")
	serverFlags(cmd)
	return cmd
}

func newCatalogShadowCmd(v *viper.Viper) *cobra.Command {
	var asJSON bool
	var recent uint64
	cmd := &cobra.Command{
		Use:   "shadow HASH",
		Short: "Replay the running server's recent WAL under a stored catalog version, changing nothing",
		Long: `Asks the running server to replay its recent WAL under the catalog HASH
(beside the writer, changing nothing) and prints what would have come out
differently: the first divergent record, its transition, both results and a
diff of the state there. Exit code 3 when the replay diverges, 2 when the
server refuses.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "/v1/catalogs/" + url.PathEscape(args[0]) + "/shadow"
			if recent > 0 {
				path += "?recent=" + strconv.FormatUint(recent, 10)
			}
			var rep replay.Report
			if err := callServer(cmd, v, path, nil, &rep); err != nil {
				return err
			}
			if asJSON {
				if err := writeCatalogJSON(cmd.OutOrStdout(), rep); err != nil {
					return err
				}
			} else {
				fmt.Fprint(cmd.OutOrStdout(), rep.Text())
			}
			if !rep.Clean() {
				return &exitError{code: 3, err: fmt.Errorf("shadow replay diverged")}
			}
			return nil
		},
	}
	cmd.Flags().Uint64Var(&recent, "recent", 0, "replay the latest N records (0: from the oldest retained snapshot)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	serverFlags(cmd)
	return cmd
}
