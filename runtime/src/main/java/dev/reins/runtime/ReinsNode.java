package dev.reins.runtime;

import com.typesafe.config.Config;
import dev.reins.runtime.run.RunEntity;
import dev.reins.runtime.run.RunSettings;
import dev.reins.runtime.tenant.QuotaSettings;
import dev.reins.runtime.tenant.TenantQuota;
import dev.reins.runtime.worker.JobCredentials;
import dev.reins.runtime.worker.WorkerPool;
import dev.reins.runtime.worker.WorkerSettings;
import java.time.Clock;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.cluster.typed.Cluster;

/**
 * What one node of Reins runs: its worker pool (after killing processes orphaned by an earlier
 * crash of this node), the tenants' quotas and the run entity type, registered with sharding.
 */
public record ReinsNode(
    ActorRef<WorkerPool.Command> pool, RunSettings runSettings, WorkerSettings workerSettings, TenantQuota.Client quota) {

  public static ReinsNode start(ActorContext<?> guardian, Config config, JobCredentials credentials, Clock clock) {
    WorkerSettings workerSettings = WorkerSettings.fromConfig(config);
    RunSettings runSettings = RunSettings.fromConfig(config);
    String node = Cluster.get(guardian.getSystem()).selfMember().address().toString();
    ActorRef<WorkerPool.Command> pool =
        guardian.spawn(
            WorkerPool.create(workerSettings, credentials, node, RunEntity.reportRouter(guardian.getSystem())), "worker-pool");
    TenantQuota.Client quota = TenantQuota.init(guardian.getSystem(), QuotaSettings.fromConfig(config), clock);
    RunEntity.init(guardian.getSystem(), pool, runSettings, quota, clock);
    return new ReinsNode(pool, runSettings, workerSettings, quota);
  }
}
