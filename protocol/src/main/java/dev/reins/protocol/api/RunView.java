package dev.reins.protocol.api;

import dev.reins.protocol.run.CancelInfo;
import dev.reins.protocol.run.ExecutorSpec;
import dev.reins.protocol.run.ExitInfo;
import dev.reins.protocol.run.RetryPolicy;
import dev.reins.protocol.run.RunState;
import dev.reins.protocol.run.RunStatus;
import java.time.Instant;
import java.util.Map;

/**
 * A run as {@code GET /v1/runs/{id}} shows it. {@code version} is the last event's sequence number;
 * {@code parentRunId} is set on a child run (the target of a delegation of that run).
 */
public record RunView(
    String id,
    String tenant,
    RunStatus state,
    int attempt,
    Instant createdAt,
    Instant updatedAt,
    ExecutorSpec executor,
    long timeoutSeconds,
    long cancelGraceSeconds,
    RetryPolicy retry,
    Map<String, String> labels,
    String idempotencyKey,
    Worker worker,
    ExitInfo exit,
    CancelInfo cancel,
    Instant retryAt,
    String parentRunId,
    long version) {

  public record Worker(String node, long pid) {}

  public static RunView of(RunState s, long version) {
    return new RunView(
        s.runId(),
        s.tenant(),
        s.status(),
        s.attempt(),
        s.createdAt(),
        s.updatedAt(),
        s.spec().executor(),
        s.spec().timeoutSeconds(),
        s.spec().cancelGraceSeconds(),
        s.spec().retry(),
        s.spec().labels(),
        s.spec().idempotencyKey(),
        s.worker() == null ? null : new Worker(s.worker().node(), s.worker().pid()),
        s.exit(),
        s.cancel(),
        s.retryAt(),
        s.parentRunId(),
        version);
  }
}
