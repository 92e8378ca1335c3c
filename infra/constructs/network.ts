import { CfnOutput, Fn, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { ResolvedConfig } from '../validation';

/**
 * Where the worker runs, when not on Lambda's own network: a new VPC (NAT gateways with Elastic
 * IPs as fixed source IPs, an S3 gateway endpoint, rejected flows logged) or an existing VPC's
 * private subnets, and a security group with nothing inbound and only HTTPS and POP3 outbound.
 */
export class Network {
  readonly vpc: ec2.IVpc;
  readonly securityGroup: ec2.SecurityGroup;

  /** The network of `config.network`, or undefined for `vpc: 'none'`. */
  static create(scope: Construct, config: ResolvedConfig): Network | undefined {
    return config.network.vpc === 'none' ? undefined : new Network(scope, config);
  }

  private constructor(scope: Construct, config: ResolvedConfig) {
    const network = config.network;
    if (network.vpc === 'none') throw new Error('Network: vpc "none" has no network to create');
    if (network.vpc === 'new') {
      const eips =
        network.eipAllocationIds === undefined
          ? Array.from({ length: network.natGateways }, (_, i) => new ec2.CfnEIP(scope, `NatEip${i + 1}`, {}))
          : undefined;
      const created = new ec2.Vpc(scope, 'Vpc', {
        maxAzs: network.maxAzs,
        natGateways: network.natGateways,
        natGatewayProvider: ec2.NatProvider.gateway({
          eipAllocationIds: eips ? eips.map((eip) => eip.attrAllocationId) : [...network.eipAllocationIds!],
        }),
        subnetConfiguration: [
          { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
          { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
        ],
      });
      // S3 traffic skips the NAT gateway (no per-GB NAT charge for archived bytes).
      created.addGatewayEndpoint('S3Endpoint', { service: ec2.GatewayVpcEndpointAwsService.S3 });
      created.addFlowLog('FlowLog', {
        trafficType: ec2.FlowLogTrafficType.REJECT,
        destination: ec2.FlowLogDestination.toCloudWatchLogs(
          new logs.LogGroup(scope, 'FlowLogGroup', { retention: config.logRetentionDays }),
        ),
      });
      new CfnOutput(scope, 'NatEgressIps', {
        description: 'Source IPs the POP3 servers see (allow-list these)',
        value: eips
          ? Fn.join(
              ', ',
              eips.map((eip) => eip.ref),
            )
          : network.eipAllocationIds!.join(', '),
      });
      this.vpc = created;
    } else {
      this.vpc = ec2.Vpc.fromVpcAttributes(scope, 'Vpc', {
        vpcId: network.vpcId,
        availabilityZones: [...network.availabilityZones],
        privateSubnetIds: [...network.privateSubnetIds],
      });
      for (const subnet of this.vpc.privateSubnets) {
        Validations.of(subnet).acknowledge({
          id: '@aws-cdk/aws-ec2:noSubnetRouteTableId',
          reason:
            'Subnets described without a lookup (synth stays offline); nothing here reads their route tables.',
        });
      }
    }
    this.securityGroup = new ec2.SecurityGroup(scope, 'WorkerSecurityGroup', {
      vpc: this.vpc,
      description: 'Pop3Poller worker: HTTPS to AWS APIs and POP3 to mail servers, nothing inbound',
      allowAllOutbound: false,
    });
    this.securityGroup.addEgressRule(
      ec2.Peer.anyIpv4(),
      ec2.Port.tcp(443),
      'AWS APIs (through NAT or endpoints)',
    );
    for (const port of network.pop3Ports) {
      this.securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(port), `POP3 servers (port ${port})`);
    }
  }
}
