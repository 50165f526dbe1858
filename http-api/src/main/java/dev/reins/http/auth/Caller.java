package dev.reins.http.auth;

import dev.reins.protocol.auth.Scope;
import dev.reins.runtime.run.RunAccess;
import java.util.Set;

/** Who sent a request, as its bearer token says. */
public sealed interface Caller {
  String tenant();

  /** How the run entities see this caller. */
  RunAccess runAccess();

  /** An API token (from the token table, or {@code REINS_ADMIN_TOKEN}). */
  record ApiCaller(String tokenId, String name, String tenant, Set<Scope> scopes) implements Caller {
    public ApiCaller {
      scopes = Set.copyOf(scopes);
    }

    /** {@code admin} implies every scope. */
    public boolean has(Scope scope) {
      return scopes.contains(scope) || scopes.contains(Scope.ADMIN);
    }

    @Override
    public RunAccess runAccess() {
      return RunAccess.tenant(tenant);
    }
  }

  /** The per-run token of one attempt's process: its own run, while that attempt lives. */
  record RunCaller(String runId, String tenant, int attempt) implements Caller {
    @Override
    public RunAccess runAccess() {
      return RunAccess.runToken(tenant, attempt);
    }
  }
}
