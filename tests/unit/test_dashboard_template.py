"""The dashboard's hosting in template.yaml: a private bucket only its CloudFront distribution reads, the API on
the same origin under /api/*, the files published by the stack itself, and sign-in for the browser."""

from __future__ import annotations

from pathlib import Path

from local.template import functions, load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template()
RESOURCES = TEMPLATE["Resources"]
DISTRIBUTION = RESOURCES["DashboardDistribution"]["Properties"]["DistributionConfig"]


def props(logical_id: str) -> dict:
    return RESOURCES[logical_id]["Properties"]


def test_the_bucket_is_private_and_only_this_distribution_reads_it():
    bucket = props("DashboardBucket")
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert "WebsiteConfiguration" not in bucket
    assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    policy = props("DashboardBucketPolicy")
    assert policy["Bucket"] == {"Ref": "DashboardBucket"}
    allow, deny = policy["PolicyDocument"]["Statement"]
    assert allow["Effect"] == "Allow" and allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allow["Action"] == "s3:GetObject"
    assert "${DashboardDistribution}" in allow["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Sub"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    site = next(o for o in DISTRIBUTION["Origins"] if o["Id"] == "site")
    assert site["DomainName"] == {"Fn::GetAtt": ["DashboardBucket", "RegionalDomainName"]}
    assert site["OriginAccessControlId"] == {"Fn::GetAtt": ["DashboardOriginAccessControl", "Id"]}
    assert props("DashboardOriginAccessControl")["OriginAccessControlConfig"]["SigningBehavior"] == "always"


def test_the_api_is_on_the_dashboards_origin_uncached_with_every_method():
    api = next(o for o in DISTRIBUTION["Origins"] if o["Id"] == "api")
    assert "${SyncApi}.execute-api." in api["DomainName"]["Fn::Sub"]
    assert api["OriginPath"] == "/" + props("SyncApi")["StageName"]
    assert api["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    (behaviour,) = DISTRIBUTION["CacheBehaviors"]
    assert behaviour["PathPattern"] == "/api/*" and behaviour["TargetOriginId"] == "api"
    assert set(behaviour["AllowedMethods"]) == {"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"}
    cache = props("DashboardApiCachePolicy")["CachePolicyConfig"]
    assert cache["DefaultTTL"] == 0 and cache["MinTTL"] == 0 and cache["MaxTTL"] <= 1
    keyed = cache["ParametersInCacheKeyAndForwardedToOrigin"]
    # CloudFront forwards Authorization only when it is in the cache key, so answers are never shared.
    assert keyed["HeadersConfig"] == {"HeaderBehavior": "whitelist", "Headers": ["Authorization"]}
    assert keyed["QueryStringsConfig"] == {"QueryStringBehavior": "all"}
    # Every other request header but Host (API Gateway routes on its own host name).
    assert behaviour["OriginRequestPolicyId"] == "b689b0a8-53d0-40ab-baf2-68738e2966ac"
    default = DISTRIBUTION["DefaultCacheBehavior"]
    assert default["TargetOriginId"] == "site" and default["ViewerProtocolPolicy"] == "redirect-to-https"
    assert DISTRIBUTION["DefaultRootObject"] == "index.html"


def test_the_content_security_policy_allows_only_the_stacks_own_endpoints():
    headers = props("DashboardHeadersPolicy")["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    policy = headers["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == directives["script-src"] == directives["style-src"] == "'self'"
    assert directives["connect-src"].split() == [
        "'self'",
        "wss://${WebSocketApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}",
        "https://${UserPoolDomain}.auth.${AWS::Region}.amazoncognito.com",
    ]
    assert directives["frame-ancestors"] == "'none'"
    assert headers["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000
    assert DISTRIBUTION["DefaultCacheBehavior"]["ResponseHeadersPolicyId"] == {"Ref": "DashboardHeadersPolicy"}


def test_the_stack_publishes_the_files_itself_and_again_when_they_change():
    layer = props("DashboardSite")
    assert layer["ContentUri"] == "dashboard/" and (ROOT / "dashboard" / "index.html").is_file()
    assert "BuildMethod" not in (RESOURCES["DashboardSite"].get("Metadata") or {})  # files, not code
    deployment = RESOURCES["DashboardSiteDeployment"]
    assert deployment["Type"] == "Custom::DashboardSite"
    # Its function's log group exists before the function does (LoggingConfig), so before this first call.
    assert props("DashboardPublisherFunction")["LoggingConfig"] == {
        "LogGroup": {"Ref": "DashboardPublisherFunctionLogGroup"}
    }
    properties = deployment["Properties"]
    assert properties["ServiceToken"] == {"Fn::GetAtt": ["DashboardPublisherFunction", "Arn"]}
    assert int(properties["ServiceTimeout"]) <= 300  # a lost answer fails the deploy in minutes, not an hour
    # The layer's version changes with the files: that is what makes CloudFormation send an Update.
    assert properties["Site"] == {"Ref": "DashboardSite"}
    assert properties["Bucket"] == {"Ref": "DashboardBucket"}
    assert properties["DistributionId"] == {"Ref": "DashboardDistribution"}
    publisher = functions(TEMPLATE)["DashboardPublisherFunction"]
    assert publisher.timeout >= int(properties["ServiceTimeout"])
    # It downloads the version a request names, which in a rollback is not the newest: any version of the layer.
    statements = props("DashboardPublisherFunction")["Policies"][0]["Statement"]
    (get_layer,) = [s for s in statements if s["Action"] == "lambda:GetLayerVersion"]
    assert get_layer["Resource"]["Fn::Sub"].endswith(":layer:${AWS::StackName}-site:*")
    assert props("DashboardSite")["LayerName"] == {"Fn::Sub": "${AWS::StackName}-site"}


def test_the_browser_signs_in_with_a_public_client_that_returns_to_the_dashboard():
    client = props("DashboardClient")
    assert client["GenerateSecret"] is False and client["AllowedOAuthFlows"] == ["code"]
    assert {"synchub/read", "synchub/write"} <= set(client["AllowedOAuthScopes"])
    assert client["CallbackURLs"] == [{"Fn::Sub": "https://${DashboardDistribution.DomainName}/"}]
    sign_in = props("DashboardSiteDeployment")["Config"]["sign_in"]["Fn::If"]
    assert sign_in[0] == "AuthIsCognito" and sign_in[1]["client_id"] == {"Ref": "DashboardClient"}
    assert sign_in[2] == {"Ref": "AWS::NoValue"}


def test_outputs_and_readme_say_where_the_dashboard_is():
    outputs = TEMPLATE["Outputs"]
    assert outputs["DashboardUrl"]["Value"] == {"Fn::Sub": "https://${DashboardDistribution.DomainName}/"}
    assert "DashboardBucketName" in outputs and "DashboardClientId" in outputs
    guide = (ROOT / "docs" / "user-guide.md").read_text()  # its Dashboard section
    assert all(name in guide for name in ("DashboardUrl", "DashboardBucketName", "DashboardClientId"))
