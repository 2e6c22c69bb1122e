// PLACEHOLDER of the infra branch (house/awsinfra), so that `cdk synth` can bundle the
// LondisteNode set-up function: the real handler (Create/Update/Delete of the node, its tables
// and sequences) is the runtime branch's (house/awsrun) and replaces this file on merge. Until
// then a deployed set-up fails loudly instead of pretending the node exists.
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';

export const handler = async (event: CloudFormationCustomResourceEvent): Promise<never> => {
  throw new Error(
    `londiste-node set-up (${event.RequestType}): not implemented in this build (placeholder handler)`,
  );
};
