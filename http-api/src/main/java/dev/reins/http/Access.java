package dev.reins.http;

import dev.reins.protocol.auth.Scope;

/**
 * Who may call an endpoint: anyone ({@link #PUBLIC}), an API token with a scope, and for {@code
 * ownRun} endpoints also the per-run token of the run the path names (while its attempt lives).
 */
public record Access(Scope scope, boolean ownRun) {
  public static final Access PUBLIC = new Access(null, false);

  public static Access scope(Scope scope) {
    return new Access(scope, false);
  }

  /** An API token with {@code scope}, or the per-run token of the run in the path's {@code {id}}. */
  public static Access scopeOrOwnRun(Scope scope) {
    return new Access(scope, true);
  }

  public boolean isPublic() {
    return scope == null;
  }
}
