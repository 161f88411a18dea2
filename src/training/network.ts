import { Eip, InternetGateway, NatGateway, Route, RouteTable, RouteTableAssociation, SecurityGroup, Subnet, Vpc, VpcEndpoint } from '../providers/aws';
import { Construct, Fn } from '../engine';
import { PlatformApp } from '../core/app';
import { check } from '../core/errors';

/** The network a cluster runs in. */
export abstract class ClusterNetwork {
  /**
   * A new VPC with a private and a public subnet in each availability zone (names given, so that a
   * plan needs no lookup), NAT gateways, and endpoints for S3 (gateway) and ECR (interface).
   */
  public static create(props: { readonly availabilityZones: string[]; readonly cidr?: string; readonly natGatewayPerZone?: boolean }): ClusterNetwork {
    return new (class extends ClusterNetwork {
      public readonly createProps = props;
    })();
  }

  /** An existing VPC and its private subnets (in at least two availability zones). */
  public static existing(props: { readonly vpcId: string; readonly vpcCidr: string; readonly privateSubnetIds: string[] }): ClusterNetwork {
    return new (class extends ClusterNetwork {
      public readonly existingProps = props;
    })();
  }

  /** @internal */ public readonly createProps?: { availabilityZones: string[]; cidr?: string; natGatewayPerZone?: boolean };
  /** @internal */ public readonly existingProps?: { vpcId: string; vpcCidr: string; privateSubnetIds: string[] };
}

/** What a cluster needs of its network. */
export interface NetworkAttributes {
  readonly vpcId: string;
  readonly vpcCidr: string;
  readonly privateSubnetIds: string[];
}

/** Props of a PlatformVpc. */
export interface PlatformVpcProps {
  readonly availabilityZones: string[];
  /** @default '10.0.0.0/16' */
  readonly cidr?: string;
  /** @default - one NAT gateway per zone in production, one in all elsewhere */
  readonly natGatewayPerZone?: boolean;
  /** The cluster name, for the subnet tags load balancers and Karpenter discover subnets by. */
  readonly clusterName: string;
}

/**
 * A VPC for a cluster: a /20 private subnet and a /24 public subnet per zone, NAT for egress, and
 * VPC endpoints so image pulls and S3 traffic stay off the internet.
 */
export class PlatformVpc extends Construct implements NetworkAttributes {
  public readonly vpc: Vpc;
  public readonly vpcId: string;
  public readonly vpcCidr: string;
  public readonly privateSubnetIds: string[];
  public readonly publicSubnetIds: string[];

  constructor(scope: Construct, id: string, props: PlatformVpcProps) {
    super(scope, id);
    const context = PlatformApp.of(this).context;
    const zones = props.availabilityZones;
    check(zones.length >= 2 && zones.length <= 6 && new Set(zones).size === zones.length, scope, 'network.availabilityZones', zones,
      'must name 2 to 6 distinct availability zones');
    for (const zone of zones) {
      check(zone.startsWith(context.region) && /[a-z]$/.test(zone), scope, 'network.availabilityZones', zone, `must be a zone of the platform's region ${context.region}, e.g. ${context.region}a`);
    }
    const cidr = props.cidr ?? '10.0.0.0/16';
    check(/^(\d{1,3}\.){3}\d{1,3}\/(1[6-9]|20)$/.test(cidr), scope, 'network.cidr', cidr, 'must be an IPv4 CIDR block from /16 to /20');
    const perZone = props.natGatewayPerZone ?? context.environment.isProduction;
    const name = context.physicalName(id);
    const clusterTag = { [`kubernetes.io/cluster/${props.clusterName}`]: 'shared' };

    this.vpc = new Vpc(this, 'vpc', { cidrBlock: cidr, enableDnsHostnames: true, enableDnsSupport: true, tags: { Name: name } });
    this.vpcId = this.vpc.id;
    this.vpcCidr = cidr;
    const igw = new InternetGateway(this, 'igw', { vpcId: this.vpcId, tags: { Name: name } });
    const publicRoutes = new RouteTable(this, 'public-routes', { vpcId: this.vpcId, tags: { Name: `${name}-public` } });
    new Route(this, 'public-default', { routeTableId: publicRoutes.id, destinationCidrBlock: '0.0.0.0/0', gatewayId: igw.id });

    const publicSubnets = zones.map((zone, i) => {
      const subnet = new Subnet(this, `public-${zone}`, {
        vpcId: this.vpcId, availabilityZone: zone, cidrBlock: Fn.cidrsubnet(cidr, 8, 240 + i), mapPublicIpOnLaunch: false,
        tags: { Name: `${name}-public-${zone}`, 'kubernetes.io/role/elb': '1', ...clusterTag },
      });
      new RouteTableAssociation(this, `public-${zone}-routes`, { subnetId: subnet.id, routeTableId: publicRoutes.id });
      return subnet;
    });
    const nats = (perZone ? zones : zones.slice(0, 1)).map((zone, i) => {
      const eip = new Eip(this, `nat-ip-${zone}`, { domain: 'vpc', tags: { Name: `${name}-nat-${zone}` } });
      return new NatGateway(this, `nat-${zone}`, { allocationId: eip.id, subnetId: publicSubnets[i].id, tags: { Name: `${name}-${zone}` }, dependsOn: [igw] });
    });
    const privateRouteTables: RouteTable[] = [];
    const privateSubnets = zones.map((zone, i) => {
      const subnet = new Subnet(this, `private-${zone}`, {
        vpcId: this.vpcId, availabilityZone: zone, cidrBlock: Fn.cidrsubnet(cidr, 4, i),
        tags: { Name: `${name}-private-${zone}`, 'kubernetes.io/role/internal-elb': '1', 'karpenter.sh/discovery': props.clusterName, ...clusterTag },
      });
      const routes = new RouteTable(this, `private-${zone}-routes`, { vpcId: this.vpcId, tags: { Name: `${name}-private-${zone}` } });
      new Route(this, `private-${zone}-default`, { routeTableId: routes.id, destinationCidrBlock: '0.0.0.0/0', natGatewayId: nats[perZone ? i : 0].id });
      new RouteTableAssociation(this, `private-${zone}-association`, { subnetId: subnet.id, routeTableId: routes.id });
      privateRouteTables.push(routes);
      return subnet;
    });
    this.privateSubnetIds = privateSubnets.map((s) => s.id);
    this.publicSubnetIds = publicSubnets.map((s) => s.id);

    new VpcEndpoint(this, 's3-endpoint', {
      vpcId: this.vpcId, serviceName: `com.amazonaws.${context.region}.s3`, vpcEndpointType: 'Gateway',
      routeTableIds: privateRouteTables.map((r) => r.id), tags: { Name: `${name}-s3` },
      // Only buckets of this account, and the AWS-owned buckets nodes need to start (ECR image
      // layers, Amazon Linux repositories): the gateway endpoint policy of the VPC and ECR docs.
      policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Sid: 'BucketsOfThisAccount', Effect: 'Allow', Principal: '*', Action: 's3:*', Resource: '*', Condition: { StringEquals: { 'aws:ResourceAccount': context.accountId } } },
          { Sid: 'EcrImageLayers', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: [`arn:aws:s3:::prod-${context.region}-starport-layer-bucket/*`] },
          { Sid: 'AmazonLinuxRepositories', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: [`arn:aws:s3:::al2023-repos-${context.region}-de612dc2/*`, `arn:aws:s3:::amazonlinux-2-repos-${context.region}/*`] },
        ],
      }),
    });
    const endpointSg = new SecurityGroup(this, 'endpoint-security-group', {
      name: `${name}-endpoints`, description: 'HTTPS from the VPC to interface endpoints', vpcId: this.vpcId,
      ingress: [{ description: 'HTTPS from the VPC', fromPort: 443, toPort: 443, protocol: 'tcp', cidrBlocks: [cidr] }],
      egress: [], revokeRulesOnDelete: true,
    });
    for (const service of ['ecr.api', 'ecr.dkr', 'sts']) {
      new VpcEndpoint(this, `${service.replace('.', '-')}-endpoint`, {
        vpcId: this.vpcId, serviceName: `com.amazonaws.${context.region}.${service}`, vpcEndpointType: 'Interface',
        privateDnsEnabled: true, subnetIds: this.privateSubnetIds, securityGroupIds: [endpointSg.id], tags: { Name: `${name}-${service}` },
      });
    }
  }
}
