"""The education CA (R19): its keys, user certificates and their records, the cluster's node
certificates.
"""
