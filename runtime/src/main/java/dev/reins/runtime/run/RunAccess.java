package dev.reins.runtime.run;

import dev.reins.protocol.run.RunState;
import dev.reins.runtime.CborSerializable;

/**
 * Who is asking a run: the caller's tenant, and for a per-run token the attempt it was issued
 * for. The run entity checks it against its own state, so the answer cannot race a transition: a
 * run of another tenant is not found (the same answer as a run that does not exist, so that no
 * caller learns which ids exist elsewhere), and a per-run token stops working when its attempt
 * ends.
 *
 * @param tenant the caller's tenant; {@code null} only for {@link #INTERNAL}
 * @param tokenAttempt for a per-run token, its attempt; {@code null} for API tokens
 */
public record RunAccess(String tenant, Integer tokenAttempt) implements CborSerializable {

  /** Reins itself (tests, internal callers): no tenant check. Never derived from a request. */
  public static final RunAccess INTERNAL = new RunAccess(null, null);

  public static RunAccess tenant(String tenant) {
    return new RunAccess(tenant, null);
  }

  public static RunAccess runToken(String tenant, int attempt) {
    return new RunAccess(tenant, attempt);
  }

  /** What the run answers this caller instead of obeying it; {@code null} when it may go on. */
  RunEntity.Outcome denial(RunState s) {
    if (!s.exists() || tenant == null) {
      return null;
    }
    if (!tenant.equals(s.tenant())) {
      return RunEntity.Outcome.NOT_FOUND;
    }
    if (tokenAttempt != null && (tokenAttempt != s.attempt() || s.status().isTerminal())) {
      return RunEntity.Outcome.ATTEMPT_ENDED;
    }
    return null;
  }
}
