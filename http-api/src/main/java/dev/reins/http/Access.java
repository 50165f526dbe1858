package dev.reins.http;

import dev.reins.protocol.auth.Scope;

/**
 * Who may call an endpoint: anyone ({@link #PUBLIC}), an API token with a scope, and for {@code
 * ownRun} endpoints also the per-run token of the run the path names (while its attempt lives).
 * An {@code operatorsOnly} endpoint acts on every tenant at once (the read models, the metrics):
 * only tokens of the default tenant, the operators', with its scope may call it.
 */
public record Access(Scope scope, boolean ownRun, boolean operatorsOnly) {
  public static final Access PUBLIC = new Access(null, false, false);

  public static Access scope(Scope scope) {
    return new Access(scope, false, false);
  }

  /** An API token with {@code scope}, or the per-run token of the run in the path's {@code {id}}. */
  public static Access scopeOrOwnRun(Scope scope) {
    return new Access(scope, true, false);
  }

  /** An admin token of the default tenant. */
  public static Access ofOperators() {
    return ofOperators(Scope.ADMIN);
  }

  /** A token of the default tenant with {@code scope} (or admin). */
  public static Access ofOperators(Scope scope) {
    return new Access(scope, false, true);
  }

  public boolean isPublic() {
    return scope == null;
  }
}
