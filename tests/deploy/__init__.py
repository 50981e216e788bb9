"""What a first ``sam deploy`` needs beyond the linters: AWS's create-time and run-time rules, checked on the
template as CloudFormation will see it (``make deploy-check``)."""
