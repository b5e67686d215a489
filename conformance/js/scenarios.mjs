// Conformance scenarios run with the AWS SDK for JavaScript v3 (@aws-sdk/client-batch).
//
//   node scenarios.mjs <scenario>
//
// Environment: BATCHEMU_ENDPOINT (the server), AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
// AWS_REGION (the SDK's own variables), JOB_IMAGE (image of jobs that really run).
// stdout is JSON lines: {"sent": "<Operation>"} for every command the client sends, then one
// {"result": {...}}. A 501 from the server prints {"notImplemented": "<Operation>"} and exits 3.
import {
  BatchClient, ClientException,
  CreateComputeEnvironmentCommand, DescribeComputeEnvironmentsCommand,
  CreateJobQueueCommand, DescribeJobQueuesCommand, RegisterJobDefinitionCommand,
  SubmitJobCommand, DescribeJobsCommand, paginateListJobs,
  CreateConsumableResourceCommand, DescribeConsumableResourceCommand, UpdateConsumableResourceCommand,
  DeleteConsumableResourceCommand, paginateListConsumableResources,
  CreateServiceEnvironmentCommand, DescribeServiceEnvironmentsCommand, CreateSchedulingPolicyCommand,
  CreateQuotaShareCommand, DescribeQuotaShareCommand, paginateListQuotaShares,
  CancelJobsCommand, TerminateJobsCommand,
} from "@aws-sdk/client-batch";

const emit = (line) => process.stdout.write(JSON.stringify(line) + "\n");

const client = new BatchClient({ endpoint: process.env.BATCHEMU_ENDPOINT, maxAttempts: 1 });
let lastSent = null; // the scenarios send one command at a time: a failure is the last one's
client.middlewareStack.add(
  (next, context) => async (args) => {
    lastSent = context.commandName.replace(/Command$/, "");
    emit({ sent: lastSent });
    return next(args);
  },
  { step: "initialize", name: "recordSentCommands" },
);

const unique = (prefix) => `${prefix}-${Math.random().toString(16).slice(2, 10)}`;
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Polls probe() until done(value) holds, like every Batch client does (there are no waiters).
async function waitFor(probe, done, what, seconds = 30) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await pause(50);
  }
}

const settled = (item) => item && !["CREATING", "UPDATING"].includes(item.status);

// A settled EC2 compute environment and a queue on it; returns the queue's name.
async function jobQueue() {
  const ce = unique("ce");
  await client.send(new CreateComputeEnvironmentCommand({
    computeEnvironmentName: ce, type: "MANAGED",
    computeResources: {
      type: "EC2", minvCpus: 0, maxvCpus: 4, instanceTypes: ["optimal"], subnets: ["subnet-1"],
      securityGroupIds: ["sg-1"], instanceRole: "ecsInstanceRole",
    },
  }));
  await waitFor(async () => (await client.send(new DescribeComputeEnvironmentsCommand(
    { computeEnvironments: [ce] }))).computeEnvironments[0], settled, "the compute environment");
  const queue = unique("queue");
  await client.send(new CreateJobQueueCommand({
    jobQueueName: queue, priority: 1, computeEnvironmentOrder: [{ order: 1, computeEnvironment: ce }],
  }));
  await waitFor(async () => (await client.send(new DescribeJobQueuesCommand(
    { jobQueues: [queue] }))).jobQueues[0], settled, "the job queue");
  return queue;
}

async function registerDefinition(command) {
  return (await client.send(new RegisterJobDefinitionCommand({
    jobDefinitionName: unique("jd"), type: "container",
    containerProperties: {
      image: process.env.JOB_IMAGE, command,
      resourceRequirements: [{ type: "VCPU", value: "1" }, { type: "MEMORY", value: "128" }],
    },
  }))).jobDefinitionArn;
}

const describeJob = async (jobId) => (await client.send(new DescribeJobsCommand({ jobs: [jobId] }))).jobs[0];

const scenarios = {
  // A compute environment, a queue and a definition; one job run to the end; its exit code.
  async job() {
    const queue = await jobQueue();
    const definition = { jobDefinitionArn: await registerDefinition(["sh", "-c", "exit 0"]) };
    const { jobId } = await client.send(new SubmitJobCommand({
      jobName: "from-js", jobQueue: queue, jobDefinition: definition.jobDefinitionArn,
    }));
    const job = await waitFor(async () => (await client.send(new DescribeJobsCommand({ jobs: [jobId] }))).jobs[0],
      (j) => j && ["SUCCEEDED", "FAILED"].includes(j.status), "the job to finish");
    const listed = [];
    for await (const page of paginateListJobs({ client, pageSize: 1 }, { jobQueue: queue, jobStatus: job.status })) {
      listed.push(...page.jobSummaryList.map((j) => j.jobId));
    }
    // A bad request: the SDK must turn our error into its ClientException.
    let error = null;
    try {
      await client.send(new SubmitJobCommand({ jobName: "nowhere", jobQueue: "no-such-queue", jobDefinition: definition.jobDefinitionArn }));
    } catch (err) {
      error = {
        name: err.name, isClientException: err instanceof ClientException, fault: err.$fault,
        httpStatusCode: err.$metadata?.httpStatusCode, requestId: err.$metadata?.requestId, message: err.message,
      };
    }
    return { jobId, status: job.status, exitCode: job.container?.exitCode, startedAt: job.startedAt,
             stoppedAt: job.stoppedAt, listed, error };
  },

  // The bulk operations: CancelJobs on a RUNNING and a PENDING job (only the PENDING one is
  // cancelled), then TerminateJobs on the RUNNING one; per-job results, an unknown id counted
  // as successful.
  async bulk() {
    const queue = await jobQueue();
    const { jobId: running } = await client.send(new SubmitJobCommand({
      jobName: "long", jobQueue: queue, jobDefinition: await registerDefinition(["sleep", "60"]) }));
    const { jobId: pending } = await client.send(new SubmitJobCommand({
      jobName: "after", jobQueue: queue, jobDefinition: await registerDefinition(["true"]),
      dependsOn: [{ jobId: running }] }));
    await waitFor(() => describeJob(running), (j) => j.status === "RUNNING", "the job to run");
    const unknown = "00000000-0000-4000-8000-000000000000";
    const cancelled = await client.send(new CancelJobsCommand({ jobs: [running, pending, unknown], reason: "js bulk" }));
    const pendingAfter = await describeJob(pending);
    const runningAfterCancel = (await describeJob(running)).status;
    const terminated = await client.send(new TerminateJobsCommand({ jobs: [running], reason: "js stop" }));
    const stopped = await waitFor(() => describeJob(running), (j) => ["SUCCEEDED", "FAILED"].includes(j.status),
      "the terminated job to end");
    return {
      running, pending, unknown,
      cancelled: { successful: cancelled.successful, errors: cancelled.errors },
      pendingAfter: { status: pendingAfter.status, reason: pendingAfter.statusReason, isCancelled: pendingAfter.isCancelled },
      runningAfterCancel,
      terminated: { successful: terminated.successful, errors: terminated.errors },
      stopped: { status: stopped.status, reason: stopped.statusReason, isTerminated: stopped.isTerminated },
    };
  },

  // A consumable resource's lifecycle, with the SDK's paginator over ListConsumableResources.
  async consumable() {
    const names = [unique("licence"), unique("licence")];
    for (const name of names) {
      await client.send(new CreateConsumableResourceCommand({ consumableResourceName: name, totalQuantity: 3 }));
    }
    const described = await client.send(new DescribeConsumableResourceCommand({ consumableResource: names[0] }));
    const updated = await client.send(new UpdateConsumableResourceCommand(
      { consumableResource: names[0], operation: "REMOVE", quantity: 1 }));
    const pages = [];
    for await (const page of paginateListConsumableResources({ client, pageSize: 1 }, {})) {
      pages.push(page.consumableResources.map((r) => r.consumableResourceName));
    }
    await client.send(new DeleteConsumableResourceCommand({ consumableResource: names[1] }));
    const after = [];
    for await (const page of paginateListConsumableResources({ client }, {})) {
      after.push(...page.consumableResources.map((r) => r.consumableResourceName));
    }
    return { names, described: { totalQuantity: described.totalQuantity, resourceType: described.resourceType },
             updatedTotal: updated.totalQuantity, pages, after };
  },

  // A quota share in a quota-management queue: a SAGEMAKER_TRAINING queue with a quotaSharePolicy
  // and a service environment whose capacity is counted per instance type.
  async quota() {
    const se = unique("se");
    await client.send(new CreateServiceEnvironmentCommand({
      serviceEnvironmentName: se, serviceEnvironmentType: "SAGEMAKER_TRAINING",
      capacityLimits: [{ maxCapacity: 4, capacityUnit: "ml.m5.large" }],
    }));
    await waitFor(async () => (await client.send(new DescribeServiceEnvironmentsCommand(
      { serviceEnvironments: [se] }))).serviceEnvironments[0], settled, "the service environment");
    const policy = await client.send(new CreateSchedulingPolicyCommand({
      name: unique("quota-policy"), quotaSharePolicy: { idleResourceAssignmentStrategy: "FIFO" },
    }));
    const queue = unique("queue");
    await client.send(new CreateJobQueueCommand({
      jobQueueName: queue, priority: 1, jobQueueType: "SAGEMAKER_TRAINING", schedulingPolicyArn: policy.arn,
      serviceEnvironmentOrder: [{ order: 1, serviceEnvironment: se }],
    }));
    await waitFor(async () => (await client.send(new DescribeJobQueuesCommand(
      { jobQueues: [queue] }))).jobQueues[0], settled, "the job queue");
    const share = await client.send(new CreateQuotaShareCommand({
      quotaShareName: unique("share"), jobQueue: queue,
      capacityLimits: [{ maxCapacity: 2, capacityUnit: "ml.m5.large" }],
      resourceSharingConfiguration: { strategy: "RESERVE" },
      preemptionConfiguration: { inSharePreemption: "DISABLED" },
    }));
    const described = await client.send(new DescribeQuotaShareCommand({ quotaShareArn: share.quotaShareArn }));
    const listed = [];
    for await (const page of paginateListQuotaShares({ client }, { jobQueue: queue })) {
      listed.push(...page.quotaShares.map((s) => s.quotaShareArn));
    }
    return { share, described: { quotaShareName: described.quotaShareName, capacityLimits: described.capacityLimits },
             listed };
  },
};

const name = process.argv[2];
if (!scenarios[name]) {
  console.error(`usage: node scenarios.mjs <${Object.keys(scenarios).join("|")}>`);
  process.exit(2);
}
try {
  emit({ result: await scenarios[name]() });
} catch (err) {
  if (err.$metadata?.httpStatusCode === 501) {
    emit({ notImplemented: lastSent, message: err.message });
    process.exit(3);
  }
  console.error(err);
  process.exit(1);
}
