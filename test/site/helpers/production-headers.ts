/**
 * The response headers CloudFront adds to every page and run file, read from the synthesized stack (the
 * ResponseHeadersPolicy that site-hosting.ts defines), so that a browser test serves the site exactly as
 * production does. A policy part this reader does not know fails loudly instead of being left out.
 */
import { Template } from 'aws-cdk-lib/assertions';
import { buildGloStack } from '../../infra/synth.ts';

interface PolicyConfig {
  SecurityHeadersConfig?: {
    ContentSecurityPolicy?: { ContentSecurityPolicy: string };
    ContentTypeOptions?: object;
    FrameOptions?: { FrameOption: string };
    ReferrerPolicy?: { ReferrerPolicy: string };
    StrictTransportSecurity?: { AccessControlMaxAgeSec: number; IncludeSubdomains?: boolean; Preload?: boolean };
    XSSProtection?: unknown;
  };
  CustomHeadersConfig?: { Items: { Header: string; Value: string }[] };
  [other: string]: unknown;
}

export function productionResponseHeaders(): Record<string, string> {
  const policies = Object.values(Template.fromStack(buildGloStack().stack).findResources('AWS::CloudFront::ResponseHeadersPolicy'));
  if (policies.length !== 1) throw new Error(`expected one ResponseHeadersPolicy in the stack, found ${policies.length}`);
  const config = (policies[0].Properties as { ResponseHeadersPolicyConfig: PolicyConfig }).ResponseHeadersPolicyConfig;
  const { Name: _name, Comment: _comment, SecurityHeadersConfig: security = {}, CustomHeadersConfig: custom, ...rest } = config;
  if (Object.keys(rest).length > 0) throw new Error(`the policy sets ${Object.keys(rest).join(', ')}, which this test does not serve yet`);
  const headers: Record<string, string> = {};
  const { ContentSecurityPolicy, ContentTypeOptions, FrameOptions, ReferrerPolicy, StrictTransportSecurity, XSSProtection, ...unknown } = security;
  if (XSSProtection !== undefined || Object.keys(unknown).length > 0) throw new Error('the policy sets security headers this test does not serve yet');
  if (ContentSecurityPolicy) headers['Content-Security-Policy'] = ContentSecurityPolicy.ContentSecurityPolicy;
  if (ContentTypeOptions) headers['X-Content-Type-Options'] = 'nosniff';
  if (FrameOptions) headers['X-Frame-Options'] = FrameOptions.FrameOption;
  if (ReferrerPolicy) headers['Referrer-Policy'] = ReferrerPolicy.ReferrerPolicy;
  if (StrictTransportSecurity) {
    const { AccessControlMaxAgeSec, IncludeSubdomains, Preload } = StrictTransportSecurity;
    headers['Strict-Transport-Security'] = [`max-age=${AccessControlMaxAgeSec}`, IncludeSubdomains && 'includeSubDomains', Preload && 'preload'].filter(Boolean).join('; ');
  }
  for (const { Header, Value } of custom?.Items ?? []) headers[Header] = Value;
  return headers;
}
