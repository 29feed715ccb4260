/* Built by tools/package-test against the installed libhandoff-dev: every
 * function the public headers declare must link, and the ones that need
 * no connection must answer. */
#include <stdio.h>
#include <string.h>

#include <handoff/client.h>

int main(void)
{
    /* Referenced, so the link fails for any the library does not export. */
    void *every[] = {
        (void *)hf_client_new,   (void *)hf_client_start,      (void *)hf_client_send,
        (void *)hf_client_ack,   (void *)hf_client_refuse,     (void *)hf_client_ping,       (void *)hf_client_stop,
        (void *)hf_client_free,  (void *)hf_client_get_state,  (void *)hf_client_unacked,
        (void *)hf_client_state_name, (void *)hf_err_name,     (void *)hf_err_text,
        (void *)hf_msg_type_name, (void *)hf_client_presence, (void *)hf_client_last_error,
        (void *)hf_client_error_permanent, (void *)hf_client_error_name, (void *)hf_client_subscribe,
        (void *)hf_push_keys_new, (void *)hf_push_decrypt, (void *)hf_client_set_device_key,
        (void *)hf_client_device_key, (void *)hf_client_device, (void *)hf_client_use_keys,
        (void *)hf_client_fingerprint, (void *)hf_keys_fingerprint, (void *)hf_key_state_name,
        (void *)hf_client_key_state, (void *)hf_client_verify_device, (void *)hf_client_approve_device,
        (void *)hf_client_send_e2e, (void *)hf_client_on_key_change, (void *)hf_client_on_refused,
        (void *)hf_client_push_keys, (void *)hf_client_wake_route,
    };
    for (size_t i = 0; i < sizeof every / sizeof every[0]; i++)
        if (!every[i])
            return 1;
    if (strcmp(hf_err_name(HF_ERR_QUEUE_FULL), "queue_full") != 0 || strcmp(hf_msg_type_name(HF_MSG_SEND), "SEND") ||
        !*hf_err_text(HF_ERR_STORE_FULL) || !*hf_client_state_name(0) ||
        strcmp(hf_client_error_name(HF_CLIENT_ERR_REFUSED), "refused") != 0 ||
        strcmp(hf_client_error_name(HF_CLIENT_ERR_KEY_CHANGED), "key_changed") != 0 ||
        strcmp(hf_key_state_name(HF_KEY_VERIFIED), "verified") != 0 ||
        !hf_client_error_permanent(HF_CLIENT_ERR_CERTIFICATE) || hf_client_error_permanent(HF_ERR_STORE_UNAVAILABLE)) {
        fprintf(stderr, "libhandoff answers wrongly\n");
        return 1;
    }
    /* Web Push keys made here do not open a body made for others. */
    uint8_t priv[HF_PUSH_PRIVATE_KEY_LEN], pub[HF_PUSH_PUBLIC_KEY_LEN], auth[HF_PUSH_AUTH_LEN], body[120] = {0};
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    const char *why = NULL;
    if (hf_push_keys_new(priv, pub, auth) != 0 || pub[0] != 4 ||
        hf_push_decrypt(priv, pub, auth, body, sizeof body, &plain, &plain_len, &why) != -1 || !why) {
        fprintf(stderr, "libhandoff's Web Push keys answer wrongly\n");
        return 1;
    }
    printf("every public function of libhandoff links and answers\n");
    return 0;
}
