# tpm/: key providers (TPM 2.0 via tpm2-tss ESAPI, software file keys).
