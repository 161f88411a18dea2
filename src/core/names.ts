import type { IConstruct } from '../engine';
import { Token } from '../engine';
import { check } from './errors';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const BUCKET = /^[a-z0-9][a-z0-9-]*[a-z0-9]$/;
const IAM_NAME = /^[\w+=,.@-]+$/;

/**
 * Name rules of AWS and Kubernetes, checked at synth time with errors that name the construct and
 * prop. Values that are only known at deploy time (tokens) are not checked.
 */
export class NameRules {
  /** A DNS-1123 label (Kubernetes object names, namespaces): lower-case alphanumerics and '-', at most 63. */
  public static dnsLabel(scope: IConstruct, prop: string, value: string): string {
    if (Token.isUnresolved(value)) return value;
    check(value.length <= 63 && DNS_LABEL.test(value), scope, prop, value,
      'must be a DNS-1123 label: at most 63 characters, lower-case letters, digits and \'-\', starting and ending with a letter or digit');
    return value;
  }

  /** A DNS-1123 subdomain: dot-separated DNS labels, at most 253 characters. */
  public static dnsSubdomain(scope: IConstruct, prop: string, value: string): string {
    if (Token.isUnresolved(value)) return value;
    check(value.length <= 253 && value.split('.').every((part) => part.length <= 63 && DNS_LABEL.test(part)), scope, prop, value,
      'must be a DNS-1123 subdomain: at most 253 characters of dot-separated lower-case labels');
    return value;
  }

  /** A Kubernetes label value: at most 63 characters of alphanumerics, '-', '_' and '.', alphanumeric at both ends. */
  public static labelValue(scope: IConstruct, prop: string, value: string): string {
    if (Token.isUnresolved(value)) return value;
    check(value.length <= 63 && LABEL_VALUE.test(value), scope, prop, value,
      'must be a Kubernetes label value: at most 63 characters of letters, digits, \'-\', \'_\' and \'.\', starting and ending with a letter or digit');
    return value;
  }

  /**
   * An S3 bucket name: 3 to 63 lower-case letters, digits and hyphens, starting and ending with a letter
   * or digit. Dots are rejected although S3 allows them, because they break TLS for virtual-hosted
   * requests; so are the reserved prefix 'xn--' and suffixes '-s3alias' and '--ol-s3'.
   */
  public static bucketName(scope: IConstruct, prop: string, value: string): string {
    if (Token.isUnresolved(value)) return value;
    const ok = value.length >= 3 && value.length <= 63 && BUCKET.test(value) && !value.startsWith('xn--')
      && !value.startsWith('sthree-') && !value.endsWith('-s3alias') && !value.endsWith('--ol-s3');
    check(ok, scope, prop, value,
      'must be an S3 bucket name: 3 to 63 lower-case letters, digits and hyphens, starting and ending with a letter or digit, without dots, the prefixes \'xn--\' or \'sthree-\', or the suffixes \'-s3alias\' or \'--ol-s3\'');
    return value;
  }

  /**
   * An EKS cluster name, as the CreateCluster API takes it: 1 to 100 letters, digits, '-' and '_',
   * starting with a letter or digit (Amazon EKS API Reference, CreateCluster, `name`).
   */
  public static eksClusterName(scope: IConstruct, prop: string, value: string): string {
    if (Token.isUnresolved(value)) return value;
    check(/^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/.test(value), scope, prop, value,
      'must be an EKS cluster name: 1 to 100 letters, digits, \'-\' and \'_\', starting with a letter or digit (no spaces)');
    return value;
  }

  /** An IAM role or policy name: at most `max` characters of alphanumerics and '+=,.@_-'. */
  public static iamName(scope: IConstruct, prop: string, value: string, max = 64): string {
    if (Token.isUnresolved(value)) return value;
    check(value.length >= 1 && value.length <= max && IAM_NAME.test(value), scope, prop, value,
      `must be an IAM name: 1 to ${max} letters, digits and '+=,.@_-'`);
    return value;
  }
}
