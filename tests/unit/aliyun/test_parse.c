/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "aliyun/credentials.h"
#include "aliyun/credentials_internal.h"
#include "aliyun/ecs.h"
#include "aliyun/ecs_internal.h"
#include "aliyun/metadata.h"
#include "aliyun/metadata_internal.h"
#include "aliyun/vpc.h"
#include "aliyun/vpc_internal.h"

static json_t *parse(const char *s)
{
    json_error_t e;
    json_t *j = json_loads(s, 0, &e);
    if (!j)
        fail_msg("bad JSON in test: %s", e.text);
    return j;
}

/* The documented DescribeEipAddresses response: Bandwidth is a string, the
 * description field is spelled "Descritpion", tags under Tags.Tag. */
static const char *describe_doc =
    "{\"TotalCount\":2,\"PageSize\":10,\"RequestId\":\"4CCE0B15-2B3E\",\"PageNumber\":1,"
    "\"EipAddresses\":{\"EipAddress\":["
    "{\"ReservationActiveTime\":\"2021-05-23T16:00:00Z\",\"Status\":\"InUse\","
    "\"AllocationId\":\"eip-2zeerraiwb7ujsxdc****\",\"InstanceId\":\"eni-bp1fv6e4rkvh2wm4****\","
    "\"InstanceType\":\"NetworkInterface\",\"PrivateIpAddress\":\"192.168.0.7\","
    "\"IpAddress\":\"47.95.XX.XX\",\"Bandwidth\":\"5\",\"InternetChargeType\":\"PayByTraffic\","
    "\"ISP\":\"BGP\",\"Name\":\"pod-eip\",\"Descritpion\":\"made by eip-agent\","
    "\"ResourceGroupId\":\"rg-acfmxazb4ph****\",\"BandwidthPackageId\":\"cbwp-bp1ego3i4j07ccdvh****"
    "\","
    "\"PublicIpAddressPoolId\":\"pippool-2vc0kxcedhquybdsz****\",\"Mode\":\"NAT\","
    "\"Tags\":{\"Tag\":[{\"Key\":\"cluster\",\"Value\":\"c1\"},{\"Key\":\"pod\",\"Value\":\"ns/"
    "p\"}]},"
    "\"OperationLocks\":{\"LockReason\":[]},\"HDMonitorStatus\":\"OFF\",\"DeletionProtection\":"
    "false},"
    "{\"AllocationId\":\"eip-second\",\"IpAddress\":\"203.0.113.9\",\"Status\":\"Available\","
    "\"Bandwidth\":10,\"InstanceId\":\"\",\"Tags\":{\"Tag\":[]}}"
    "]}}";

static void eip_page(void **state)
{
    (void)state;
    json_t *j = parse(describe_doc);
    aliyun_eip_page pg;
    assert_int_equal(aliyun_parse_eip_page(j, &pg), 0);
    assert_int_equal(pg.n, 2);
    assert_int_equal(pg.total_count, 2);
    assert_int_equal(pg.page_number, 1);
    assert_int_equal(pg.page_size, 10);
    const aliyun_eip *e = &pg.eips[0];
    assert_string_equal(e->allocation_id, "eip-2zeerraiwb7ujsxdc****");
    assert_string_equal(e->ip_address, "47.95.XX.XX");
    assert_string_equal(e->status, "InUse");
    assert_string_equal(e->instance_id, "eni-bp1fv6e4rkvh2wm4****");
    assert_string_equal(e->instance_type, "NetworkInterface");
    assert_string_equal(e->private_ip_address, "192.168.0.7");
    assert_string_equal(e->bandwidth, "5");
    assert_string_equal(e->internet_charge_type, "PayByTraffic");
    assert_string_equal(e->isp, "BGP");
    assert_string_equal(e->name, "pod-eip");
    assert_string_equal(e->description, "made by eip-agent");
    assert_string_equal(e->resource_group_id, "rg-acfmxazb4ph****");
    assert_string_equal(e->bandwidth_package_id, "cbwp-bp1ego3i4j07ccdvh****");
    assert_string_equal(e->public_ip_address_pool_id, "pippool-2vc0kxcedhquybdsz****");
    assert_string_equal(e->mode, "NAT");
    assert_int_equal(e->n_tags, 2);
    assert_string_equal(aliyun_eip_tag(e, "pod"), "ns/p");
    assert_null(aliyun_eip_tag(e, "nope"));
    /* absent fields are "", a number where a string belongs is printed */
    e = &pg.eips[1];
    assert_string_equal(e->bandwidth, "10");
    assert_string_equal(e->description, "");
    assert_string_equal(e->isp, "");
    assert_int_equal(e->n_tags, 0);
    aliyun_eip_page_clear(&pg);
    aliyun_eip_page_clear(NULL);
    json_decref(j);
}

static void eip_page_bad_shapes(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "{}",
        "{\"EipAddresses\":{}}",
        "{\"EipAddresses\":{\"EipAddress\":{}}}",
        "{\"EipAddresses\":{\"EipAddress\":[{\"IpAddress\":\"1.2.3.4\"}]}}", /* no AllocationId */
        "{\"EipAddresses\":{\"EipAddress\":[{\"AllocationId\":5}]}}",
        "{\"EipAddresses\":{\"EipAddress\":[]},\"TotalCount\":\"x\"}",
        "[]",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *j = parse(bad[i]);
        aliyun_eip_page pg;
        if (aliyun_parse_eip_page(j, &pg) != -EINVAL)
            fail_msg("accepted: %s", bad[i]);
        json_decref(j);
    }
    json_t *j = parse("{\"EipAddresses\":{\"EipAddress\":[]},\"TotalCount\":0}");
    aliyun_eip_page pg;
    assert_int_equal(aliyun_parse_eip_page(j, &pg), 0);
    assert_int_equal(pg.n, 0);
    aliyun_eip_page_clear(&pg);
    json_decref(j);
}

static void eni_page(void **state)
{
    (void)state;
    json_t *j = parse(
        "{\"RequestId\":\"x\",\"TotalCount\":1,\"NextToken\":\"MTA\",\"NetworkInterfaceSets\":{"
        "\"NetworkInterfaceSet\":[{\"NetworkInterfaceId\":\"eni-1\",\"MacAddress\":\"00:16:3e:00:"
        "00:01\","
        "\"VpcId\":\"vpc-1\",\"InstanceId\":\"i-1\",\"Status\":\"InUse\",\"Type\":\"Primary\","
        "\"PrivateIpAddress\":\"10.0.0.2\",\"PrivateIpSets\":{\"PrivateIpSet\":["
        "{\"PrivateIpAddress\":\"10.0.0.2\",\"Primary\":true},"
        "{\"PrivateIpAddress\":\"10.0.0.9\",\"Primary\":false}]}},"
        "{\"NetworkInterfaceId\":\"eni-2\",\"PrivateIpAddress\":\"10.0.0.3\"}]}}");
    aliyun_eni_page pg;
    assert_int_equal(aliyun_parse_eni_page(j, &pg), 0);
    assert_int_equal(pg.n, 2);
    assert_string_equal(pg.next_token, "MTA");
    assert_string_equal(pg.enis[0].mac_address, "00:16:3e:00:00:01");
    assert_int_equal(pg.enis[0].n_private_ips, 2);
    assert_string_equal(aliyun_eni_page_find_ip(&pg, "10.0.0.9")->network_interface_id, "eni-1");
    /* without PrivateIpSets the primary address still counts */
    assert_string_equal(aliyun_eni_page_find_ip(&pg, "10.0.0.3")->network_interface_id, "eni-2");
    assert_null(aliyun_eni_page_find_ip(&pg, "10.0.0.4"));
    aliyun_eni_page_clear(&pg);
    json_decref(j);
    j = parse("{\"NetworkInterfaceSets\":{\"NetworkInterfaceSet\":[{\"Status\":\"x\"}]}}");
    assert_int_equal(aliyun_parse_eni_page(j, &pg), -EINVAL);
    json_decref(j);
}

static void metadata_ipv4s(void **state)
{
    (void)state;
    char **v = NULL;
    const char *s = "[\"192.168.0.5\",\"192.168.0.6\"]";
    assert_int_equal(aliyun_metadata_parse_ipv4s(s, strlen(s), &v), 0);
    assert_string_equal(v[0], "192.168.0.5");
    assert_string_equal(v[1], "192.168.0.6");
    assert_null(v[2]);
    aliyun_strv_free(v);
    assert_int_equal(aliyun_metadata_parse_ipv4s("[]", 2, &v), 0);
    assert_null(v[0]);
    aliyun_strv_free(v);
    assert_int_equal(aliyun_metadata_parse_ipv4s("192.168.0.5", 11, &v), -EINVAL);
    assert_int_equal(aliyun_metadata_parse_ipv4s("[1]", 3, &v), -EINVAL);
    assert_int_equal(aliyun_metadata_parse_ipv4s("{}", 2, &v), -EINVAL);
}

static void metadata_list(void **state)
{
    (void)state;
    char **v = NULL;
    const char *s = "00:16:3e:00:00:01/\n00:16:3e:00:00:02/\n\n";
    assert_int_equal(aliyun_metadata_parse_list(s, strlen(s), &v), 0);
    assert_string_equal(v[0], "00:16:3e:00:00:01");
    assert_string_equal(v[1], "00:16:3e:00:00:02");
    assert_null(v[2]);
    aliyun_strv_free(v);
    assert_int_equal(aliyun_metadata_parse_list("EipAgentRole", 12, &v), 0);
    assert_string_equal(v[0], "EipAgentRole");
    assert_null(v[1]);
    aliyun_strv_free(v);
    assert_int_equal(aliyun_metadata_parse_list("", 0, &v), 0);
    assert_null(v[0]);
    aliyun_strv_free(v);
}

static void sts_and_ram_credentials(void **state)
{
    (void)state;
    json_t *j = parse("{\"RequestId\":\"r\",\"Credentials\":{\"SecurityToken\":\"CAIStoken\","
                      "\"Expiration\":\"2026-11-26T05:00:00Z\",\"AccessKeySecret\":\"sec\","
                      "\"AccessKeyId\":\"STS.NUgY\"},\"AssumedRoleUser\":{}}");
    aliyun_credential c = {0};
    assert_int_equal(aliyun_parse_sts_credentials(j, &c), 0);
    assert_string_equal(c.access_key_id, "STS.NUgY");
    assert_string_equal(c.access_key_secret, "sec");
    assert_string_equal(c.security_token, "CAIStoken");
    assert_int_equal(c.expiration_ms, 1795669200000LL);
    aliyun_credential_clear(&c);
    assert_null(c.access_key_id);
    json_decref(j);

    j = parse("{\"AccessKeyId\":\"STS.X\",\"AccessKeySecret\":\"s\",\"Expiration\":"
              "\"2026-11-26T05:00:00Z\",\"SecurityToken\":\"t\",\"LastUpdated\":"
              "\"2026-11-26T04:00:00Z\",\"Code\":\"Success\"}");
    assert_int_equal(aliyun_parse_ecs_ram_credentials(j, &c), 0);
    assert_string_equal(c.security_token, "t");
    aliyun_credential_clear(&c);
    json_decref(j);

    static const char *const bad[] = {
        "{\"AccessKeyId\":\"a\",\"AccessKeySecret\":\"s\",\"Code\":\"Failed\"}",
        "{\"AccessKeyId\":\"a\"}",
        "{\"AccessKeyId\":\"\",\"AccessKeySecret\":\"s\"}",
        "{\"AccessKeyId\":\"a\",\"AccessKeySecret\":\"s\",\"Expiration\":\"tomorrow\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        j = parse(bad[i]);
        assert_int_equal(aliyun_parse_ecs_ram_credentials(j, &c), -EINVAL);
        assert_null(c.access_key_id);
        json_decref(j);
    }
    j = parse("{\"Credentials\":\"x\"}");
    assert_int_equal(aliyun_parse_sts_credentials(j, &c), -EINVAL);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(eip_page),      cmocka_unit_test(eip_page_bad_shapes),
        cmocka_unit_test(eni_page),      cmocka_unit_test(metadata_ipv4s),
        cmocka_unit_test(metadata_list), cmocka_unit_test(sts_and_ram_credentials),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
