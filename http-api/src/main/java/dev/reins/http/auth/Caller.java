package dev.reins.http.auth;

import dev.reins.protocol.auth.Scope;
import dev.reins.protocol.auth.Tenants;
import dev.reins.runtime.run.RunAccess;
import java.util.Set;

/** Who sent a request, as its bearer token says. */
public sealed interface Caller {
  String tenant();

  /** How the run entities see this caller. */
  RunAccess runAccess();

  /**
   * Whether this caller may manage the API tokens of {@code tenant}: an admin of that tenant, or
   * an admin of the default tenant (the operators: the bootstrap token and {@code
   * REINS_ADMIN_TOKEN} are theirs). An admin of any other tenant must not reach beyond it, or it
   * could give itself a token of the default tenant and with it every run there.
   */
  boolean administers(String tenant);

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

    @Override
    public boolean administers(String other) {
      return scopes.contains(Scope.ADMIN) && (tenant.equals(other) || tenant.equals(Tenants.DEFAULT));
    }
  }

  /** The per-run token of one attempt's process: its own run, while that attempt lives. */
  record RunCaller(String runId, String tenant, int attempt) implements Caller {
    @Override
    public RunAccess runAccess() {
      return RunAccess.runToken(tenant, runId, attempt);
    }

    @Override
    public boolean administers(String other) {
      return false;
    }
  }
}
