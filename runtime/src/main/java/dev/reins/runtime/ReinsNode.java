package dev.reins.runtime;

import com.typesafe.config.Config;
import dev.reins.runtime.run.RunEntity;
import dev.reins.runtime.run.RunSettings;
import dev.reins.runtime.tenant.QuotaSettings;
import dev.reins.runtime.tenant.TenantQuota;
import dev.reins.runtime.worker.JobCredentials;
import dev.reins.runtime.worker.LogServer;
import dev.reins.runtime.worker.PidFiles;
import dev.reins.runtime.worker.ProcessWatchdog;
import java.io.IOException;
import java.io.UncheckedIOException;
import dev.reins.runtime.worker.WorkerPool;
import dev.reins.runtime.worker.WorkerSettings;
import java.time.Clock;
import java.util.List;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.cluster.typed.Cluster;

/**
 * What one node of Reins runs: its worker pool (after killing processes orphaned by an earlier
 * crash of this node), the process watchdog that kills the node's processes if its JVM dies, the
 * tenants' quotas and the run entity type, registered with sharding.
 * The pool starts held: the server opens it once the runs of the node's earlier life are resolved
 * (see {@code NodeRecovery}).
 *
 * @param orphans the attempts this node's earlier life was running (their processes are killed)
 */
public record ReinsNode(
    ActorRef<WorkerPool.Command> pool,
    RunSettings runSettings,
    WorkerSettings workerSettings,
    TenantQuota.Client quota,
    ActorRef<LogServer.Command> logs,
    List<PidFiles.Orphan> orphans) {

  /** @param workerSettings read (and checked) before the actor system starts: a bad one stops start-up */
  public static ReinsNode start(
      ActorContext<?> guardian, Config config, WorkerSettings workerSettings, JobCredentials credentials, Clock clock) {
    RunSettings runSettings = RunSettings.fromConfig(config);
    List<PidFiles.Orphan> orphans = new PidFiles(workerSettings.dataDir()).reap();
    if (!orphans.isEmpty()) {
      guardian.getLog().warn("found {} attempt(s) of this node's earlier life; killed what was left of their processes: {}",
          orphans.size(), orphans);
    }
    try {
      ProcessWatchdog watchdog = ProcessWatchdog.start(workerSettings.dataDir());
      guardian.getSystem().getWhenTerminated().thenRun(watchdog::close);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start the process watchdog", e);
    }
    String node = Cluster.get(guardian.getSystem()).selfMember().address().toString();
    ActorRef<WorkerPool.Command> pool =
        guardian.spawn(
            WorkerPool.createHeld(workerSettings, credentials, node, RunEntity.reportRouter(guardian.getSystem())), "worker-pool");
    TenantQuota.Client quota = TenantQuota.init(guardian.getSystem(), QuotaSettings.fromConfig(config), clock);
    RunEntity.init(guardian.getSystem(), pool, runSettings, quota, clock);
    ActorRef<LogServer.Command> logs = guardian.spawn(LogServer.create(workerSettings.dataDir()), "log-server");
    return new ReinsNode(pool, runSettings, workerSettings, quota, logs, List.copyOf(orphans));
  }
}
