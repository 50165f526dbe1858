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
 * @param tokenRunId for a per-run token, its run: it sees that run and the run's child runs
 */
public record RunAccess(String tenant, Integer tokenAttempt, String tokenRunId) implements CborSerializable {

  /** Reins itself (tests, internal callers): no tenant check. Never derived from a request. */
  public static final RunAccess INTERNAL = new RunAccess(null, null, null);

  public static RunAccess tenant(String tenant) {
    return new RunAccess(tenant, null, null);
  }

  /** The per-run token of {@code runId}'s attempt {@code attempt}: that run and its child runs. */
  public static RunAccess runToken(String tenant, String runId, int attempt) {
    return new RunAccess(tenant, attempt, runId);
  }

  /** Whether this caller may see run {@code runId} of {@code owner} at all (its state aside). */
  boolean maySee(String runId, Runs.Owner owner) {
    if (tenant != null && !tenant.equals(owner.tenant())) {
      return false;
    }
    return tokenRunId == null || tokenRunId.equals(runId) || tokenRunId.equals(owner.parentRunId());
  }

  /** For a per-run token asking about another run (a child of its own): the run whose attempt must live. */
  String tokenOfAnotherRun(String runId) {
    return tokenRunId != null && !tokenRunId.equals(runId) ? tokenRunId : null;
  }

  /** What the run answers this caller instead of obeying it; {@code null} when it may go on. */
  RunEntity.Outcome denial(RunState s) {
    if (!s.exists() || tenant == null) {
      return null;
    }
    if (!maySee(s.runId(), new Runs.Owner(s.tenant(), s.parentRunId()))) {
      return RunEntity.Outcome.NOT_FOUND;
    }
    // a child run does not know its parent's attempts: the parent answered for that (see Runs)
    if (tokenAttempt != null && tokenRunId.equals(s.runId()) && (tokenAttempt != s.attempt() || s.status().isTerminal())) {
      return RunEntity.Outcome.ATTEMPT_ENDED;
    }
    return null;
  }
}
